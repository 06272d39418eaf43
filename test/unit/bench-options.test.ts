import { loadBenchOptions } from '../../tools/bench/bench-options';
import { FacefleetError } from '../../src/errors';

const base = { images: '/photos' };

function configError(flags: Record<string, unknown>): string {
  try {
    loadBenchOptions({ ...base, ...flags }, {});
  } catch (err) {
    expect(err).toBeInstanceOf(FacefleetError);
    expect((err as FacefleetError).code).toBe('E_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('benchmark options', () => {
  it('defaults to every measurement of 400 images with one worker and the sweep off', () => {
    const o = loadBenchOptions(base, {});
    expect(o.count).toBe(400);
    expect(o.workers).toBe(1);
    expect(o.seconds).toBe(10);
    expect(o.enqueueKeys).toBe(100_000);
    expect([...o.phases]).toEqual(['ceiling', 'in-process', 'pipeline', 'naive', 'stages', 'plain-loop', 'enqueue']);
    expect(o.sweep).toBe(false);
    expect(o.sweepBatches).toEqual([1, 2, 4, 8, 16]);
    expect(o.sweepWorkers).toEqual([1, 2]);
    expect([...o.sweepPhases]).toEqual(['ceiling', 'in-process', 'pipeline']);
    expect(o.model.model).toBe('retinaface');
    expect(o.model.batch).toBe(1);
    expect(o.imagesDir).toBe('/photos');
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('reads commander strings', () => {
    const o = loadBenchOptions({ ...base, count: '16', workers: '2', seconds: '0.5', phases: 'ceiling, naive', batches: '1,4,4', sweep: true, json: true, batch: '4' }, {});
    expect([o.count, o.workers, o.seconds, o.model.batch]).toEqual([16, 2, 0.5, 4]);
    expect([...o.phases]).toEqual(['ceiling', 'naive']);
    expect(o.sweepBatches).toEqual([1, 4]);
    expect(o.sweep && o.json).toBe(true);
  });

  it('takes none as no main measurement, for a sweep alone', () => {
    const o = loadBenchOptions({ ...base, phases: 'none', sweep: true, sweepPhases: 'pipeline' }, {});
    expect(o.phases.size).toBe(0);
    expect([...o.sweepPhases]).toEqual(['pipeline']);
  });

  it('names the flag, what was expected and what was given', () => {
    expect(configError({ count: '0' })).toMatch(/--count: expected a number from 1 to 10000000; given "0"/);
    expect(configError({ workers: '1.5' })).toMatch(/--workers: expected an integer from 1 to 64; given "1.5"/);
    expect(configError({ phases: 'ceiling,warp' })).toMatch(/--phases: expected a comma-separated list of ceiling, in-process, pipeline, naive, enqueue, fleet, inference, stages, plain-loop, or none; given "ceiling,warp"/);
    expect(configError({ sweepPhases: 'naive' })).toMatch(/--sweep-phases: expected a comma-separated list of ceiling, in-process, pipeline; given "naive"/);
    expect(configError({ batches: '1,x' })).toMatch(/--batches: expected a number from 1 to 256; given "x"/);
    expect(configError({ batch: '0' })).toMatch(/batch \(--batch\)/);
  });
});
