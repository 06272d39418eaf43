import { loadModelConfig } from '../../src/config/model-config';
import { baseSessionOptions } from '../../src/inference/session-options';

describe('baseSessionOptions', () => {
  function spinning(allowSpinning?: boolean): unknown {
    const extra = baseSessionOptions({ intraOpThreads: 2, interOpThreads: 1, allowSpinning }).extra as { session: Record<string, { allow_spinning: string }> };
    return [extra.session.intra_op.allow_spinning, extra.session.inter_op.allow_spinning];
  }

  it('passes the thread counts and full graph optimisation, and keeps pool threads from spinning by default', () => {
    expect(baseSessionOptions({ intraOpThreads: 2, interOpThreads: 1 })).toMatchObject({ graphOptimizationLevel: 'all', intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' });
    expect(spinning()).toEqual(['0', '0']);
    expect(spinning(false)).toEqual(['0', '0']);
  });

  it('restores onnxruntime spinning with allowSpinning', () => {
    expect(spinning(true)).toEqual(['1', '1']);
  });

  it('takes the setting from --ort-allow-spinning or FACEFLEET_ORT_ALLOW_SPINNING, and refuses what is not a boolean', () => {
    expect(loadModelConfig({}, {}).ortAllowSpinning).toBe(false);
    expect(loadModelConfig({}, { FACEFLEET_ORT_ALLOW_SPINNING: '1' }).ortAllowSpinning).toBe(true);
    expect(loadModelConfig({}, { FACEFLEET_ORT_ALLOW_SPINNING: 'no' }).ortAllowSpinning).toBe(false);
    expect(loadModelConfig({ ortAllowSpinning: true }, { FACEFLEET_ORT_ALLOW_SPINNING: '0' }).ortAllowSpinning).toBe(true);
    expect(() => loadModelConfig({}, { FACEFLEET_ORT_ALLOW_SPINNING: 'on' })).toThrow(/ortAllowSpinning \(env FACEFLEET_ORT_ALLOW_SPINNING\): expected a boolean.*given "on"/);
  });
});
