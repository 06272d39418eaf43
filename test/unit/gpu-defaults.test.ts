import { z } from 'zod';
import { CPU_DEFAULT_BATCH, GPU_DEFAULT_BATCH, GPU_PROVIDERS, defaultInferenceThreads, prefersGpu } from '../../src/config/device-defaults';
import { usableCores } from '../../src/host/cpu-quota';
import { loadDemoConfig } from '../../src/config/demo-config';
import { loadEvalConfig } from '../../src/config/eval-config';
import { loadDetectConfig, loadModelConfig } from '../../src/config/model-config';
import { defineOptions } from '../../src/config/option-spec';
import { fieldLabel, parseConfig } from '../../src/config/parse';
import { loadServeConfig } from '../../src/config/serve-config';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { loadManifest } from '../../src/models/registry';
import { loadBenchOptions } from '../../tools/bench/bench-options';

describe('GPU defaults of the resolved config', () => {
  it('prefers a GPU when cuda or tensorrt comes first', () => {
    expect(GPU_PROVIDERS).toEqual(['cuda', 'tensorrt']);
    expect([['cuda'], ['tensorrt'], ['cuda', 'cpu'], ['cpu', 'cuda'], ['cpu'], []].map(prefersGpu)).toEqual([true, true, true, false, false, false]);
  });

  it('runs batches of 32 on cuda and of 1 on cpu when the batch is not set', () => {
    expect(GPU_DEFAULT_BATCH).toBe(32);
    expect(CPU_DEFAULT_BATCH).toBe(1);
    expect(loadModelConfig({}, {}).batch).toBe(1);
    expect(loadModelConfig({ providers: 'cuda' }, {}).batch).toBe(32);
    expect(loadModelConfig({}, { FACEFLEET_PROVIDERS: 'cuda' }).batch).toBe(32);
    expect(loadModelConfig({ providers: 'tensorrt,cuda' }, {}).batch).toBe(32);
    expect(loadModelConfig({ providers: 'cpu,cuda' }, {}).batch).toBe(1);
  });

  it('gives onnxruntime half the usable cores on cpu (at least one; all of them for mogface) and its own choice on cuda, when the threads are not set', () => {
    for (const model of ['retinaface', 'blazeface']) expect([1, 2, 3, 4, 8, 64].map((cores) => defaultInferenceThreads(['cpu'], cores, model))).toEqual([1, 1, 1, 2, 4, 32]);
    // MogFace's inference is nearly all its work: every core.
    expect([1, 2, 8].map((cores) => defaultInferenceThreads(['cpu'], cores, 'mogface'))).toEqual([1, 2, 8]);
    expect(defaultInferenceThreads(['cuda'], 8, 'mogface')).toBe(0);
    expect(defaultInferenceThreads(['cuda'], 8, 'retinaface')).toBe(0);
    expect(loadModelConfig({ model: 'mogface', modelPath: '/m.onnx' }, {}).threads).toBe(usableCores());
    expect(loadModelConfig({ model: 'blazeface' }, {}).threads).toBe(Math.max(1, Math.floor(usableCores() / 2)));
    expect(loadModelConfig({}, {}).threads).toBe(Math.max(1, Math.floor(usableCores() / 2)));
    expect(loadModelConfig({ providers: 'cuda' }, {}).threads).toBe(0);
    // Set by the flag or the variable, it stays, 0 included.
    expect(loadModelConfig({ threads: '0' }, {}).threads).toBe(0);
    expect(loadModelConfig({}, { FACEFLEET_INFERENCE_THREADS: '3' }).threads).toBe(3);
    expect(loadModelConfig({ providers: 'cuda', threads: '2' }, {}).threads).toBe(2);
  });

  it('keeps a batch the user set, from the flag or the variable, also on cuda', () => {
    expect(loadModelConfig({ providers: 'cuda', batch: '4' }, {}).batch).toBe(4);
    expect(loadModelConfig({ providers: 'cuda' }, { FACEFLEET_BATCH: '12' }).batch).toBe(12);
    expect(loadModelConfig({ providers: 'cuda', batch: '8' }, {}).batch).toBe(8);
    expect(loadModelConfig({ batch: '32' }, {}).batch).toBe(32);
  });

  it('still refuses a bad batch on cuda, naming the field', () => {
    expect(() => loadModelConfig({ providers: 'cuda', batch: '0' }, {})).toThrow(/batch \(--batch\)/);
  });

  it("keeps the model's own canvas on cuda as on cpu, unless set", () => {
    const retinaface = loadManifest('retinaface').input as { width: number; height: number };
    expect(retinaface.width).toBe(retinaface.height);
    expect(loadModelConfig({ providers: 'cuda' }, {}).canvas).toBe(retinaface.width);
    expect(loadModelConfig({}, {}).canvas).toBe(retinaface.width);
    expect(loadModelConfig({ providers: 'cuda', canvas: '1024' }, {}).canvas).toBe(1024);
  });

  it('resolves the same way for every command that runs a model', () => {
    const env = { FACEFLEET_PROVIDERS: 'cuda' };
    const worker = loadWorkerConfig({}, env);
    expect(worker.batch).toBe(32);
    expect(worker.effectiveConcurrency).toBe(96);
    expect(loadDetectConfig({}, env).batch).toBe(32);
    expect(loadServeConfig({}, env).batch).toBe(32);
    expect(loadDemoConfig({}, env).batch).toBe(32);
    expect(loadEvalConfig({}, env).batch).toBe(32);
    const bench = loadBenchOptions({ providers: 'cuda' }, {});
    expect(bench.model.batch).toBe(32);
    expect(loadBenchOptions({ providers: 'cuda', batch: '16' }, {}).model.batch).toBe(16);
  });

  it('says the derived batch came from the default, and a set one from where it was set', () => {
    expect(fieldLabel(loadModelConfig({ providers: 'cuda' }, {}), 'batch')).toBe('batch (default)');
    expect(fieldLabel(loadModelConfig({ providers: 'cuda' }, { FACEFLEET_BATCH: '4' }), 'batch')).toBe('batch (env FACEFLEET_BATCH)');
  });
});

describe('derived defaults', () => {
  const table = defineOptions({
    unit: { flag: '--unit <u>', default: 'm', help: 'unit', schema: z.enum(['m', 'km']) },
    step: { flag: '--step <n>', default: 1, help: 'step', schema: z.coerce.number(), derive: (c: Readonly<Record<string, unknown>>) => (c.unit === 'km' ? 1000 : c.step) },
    label: { flag: '--label <s>', help: 'label', schema: z.string(), derive: (c: Readonly<Record<string, unknown>>) => (c.unit === 'km' ? 'far' : undefined) },
  });

  it('computes an unset option from the other parsed ones, once they are parsed', () => {
    expect(parseConfig(table, {}, {})).toEqual({ unit: 'm', step: 1 });
    expect(parseConfig(table, { unit: 'km' }, {})).toEqual({ unit: 'km', step: 1000, label: 'far' });
  });

  it('never overrides a value that was given', () => {
    expect(parseConfig(table, { unit: 'km', step: '5', label: 'near' }, {})).toEqual({ unit: 'km', step: 5, label: 'near' });
  });

  it('returns a frozen config', () => {
    expect(Object.isFrozen(parseConfig(table, { unit: 'km' }, {}))).toBe(true);
  });
});
