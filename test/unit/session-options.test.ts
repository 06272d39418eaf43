import { baseSessionOptions } from '../../src/inference/session-options';

describe('baseSessionOptions', () => {
  const saved = process.env.FACEFLEET_ORT_ALLOW_SPINNING;
  afterEach(() => {
    if (saved === undefined) delete process.env.FACEFLEET_ORT_ALLOW_SPINNING;
    else process.env.FACEFLEET_ORT_ALLOW_SPINNING = saved;
  });

  function spinning(): unknown {
    const extra = baseSessionOptions({ intraOpThreads: 2, interOpThreads: 1 }).extra as { session: Record<string, { allow_spinning: string }> };
    return [extra.session.intra_op.allow_spinning, extra.session.inter_op.allow_spinning];
  }

  it('passes the thread counts and full graph optimisation, and keeps pool threads from spinning by default', () => {
    delete process.env.FACEFLEET_ORT_ALLOW_SPINNING;
    expect(baseSessionOptions({ intraOpThreads: 2, interOpThreads: 1 })).toMatchObject({ graphOptimizationLevel: 'all', intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' });
    expect(spinning()).toEqual(['0', '0']);
  });

  it('restores onnxruntime spinning only for FACEFLEET_ORT_ALLOW_SPINNING=1', () => {
    process.env.FACEFLEET_ORT_ALLOW_SPINNING = '1';
    expect(spinning()).toEqual(['1', '1']);
    process.env.FACEFLEET_ORT_ALLOW_SPINNING = 'yes';
    expect(spinning()).toEqual(['0', '0']);
  });
});
