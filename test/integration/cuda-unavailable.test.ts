import { spawnSync } from 'node:child_process';
import { BlazeFaceDetector } from '../../src/detectors/blazeface-detector';
import { FacefleetError } from '../../src/errors';
import { missingProviderLibraries, onnxruntimeBinaryDir } from '../../src/inference/provider-libraries';
import { SessionHost } from '../../src/inference/session-host';
import { pullBlazeFace } from '../../src/models/blazeface-pull';
import { resolveModelCacheDir } from '../../src/models/model-cache';
import { loadManifest } from '../../src/models/registry';
import { runBenchCli } from '../support/bench-cli';

// What happens on a machine without onnxruntime-node's CUDA provider (every checkout: its download is
// off outside the GPU image). On a machine that has it installed these cases do not arise.
const cudaInstalled = missingProviderLibraries(['cuda'], onnxruntimeBinaryDir()).length === 0;
const hasNvidiaSmi = spawnSync('nvidia-smi', ['-L'], { stdio: 'ignore' }).error === undefined;

(cudaInstalled ? describe.skip : describe)('--providers cuda without the CUDA provider installed', () => {
  let modelPath: string;
  const manifest = loadManifest('blazeface');

  beforeAll(async () => {
    modelPath = (await pullBlazeFace({ cacheDir: resolveModelCacheDir() })).modelPath;
  });

  it('fails the session start with E_MODEL, saying what is missing and the two ways on', async () => {
    const err = await SessionHost.start({ modelPath, intraOpThreads: 1, interOpThreads: 1, providers: ['cuda'], allowCpuFallback: false }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FacefleetError);
    expect(err).toMatchObject({ code: 'E_MODEL' });
    const message = (err as Error).message;
    expect(message).toContain('with providers [cuda]');
    expect(message).toContain('cuda execution provider is not installed');
    expect(message).toContain('libonnxruntime_providers_cuda.so');
    expect(message).toContain('Dockerfile.gpu');
    expect(message).toContain('--allow-cpu-fallback');
  });

  it('falls back to CPU with --allow-cpu-fallback, says why, and runs CPU batches unpadded', async () => {
    const host = await SessionHost.start({ modelPath, intraOpThreads: 1, interOpThreads: 1, providers: ['cuda'], allowCpuFallback: true });
    try {
      expect(host.info).toMatchObject({ provider: 'cpu (fallback)', device: false });
      expect(host.info.fallbackReason).toContain('cuda execution provider is not installed');
      const detector = new BlazeFaceDetector({ manifest, dynamicBatch: true });
      const { width, height } = detector.input;
      const per = width * height * 3;
      // Three images in a buffer with room for eight: a device session would run four rows, a CPU one three.
      const data = new Float32Array(new ArrayBuffer(8 * per * 4), 0, 3 * per);
      const res = await host.run({ [detector.input.name]: { data, dims: [3, height, width, 3] } });
      expect(res.ranRows).toBe(3);
      for (const name of detector.outputNames) expect(res.outputs[name].dims[0]).toBe(3);
    } finally {
      await host.close();
    }
  });

  it('`facefleet bench --providers cuda` ends by itself with E_MODEL and exit code 1, before measuring anything', async () => {
    const run = await runBenchCli(['bench', '--providers', 'cuda', '--model', 'blazeface', '--phases', 'ceiling', '--sets', 'samples', '--seconds', '1'], 120_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^facefleet: E_MODEL: cannot load model .* with providers \[cuda\]: the cuda execution provider is not installed/m);
    expect(run.stderr).not.toMatch(/ceiling…/);
  });

  it('`facefleet bench --providers cuda --allow-cpu-fallback` measures on CPU with the GPU defaults and says so', async () => {
    const run = await runBenchCli(['bench', '--json', '--providers', 'cuda', '--allow-cpu-fallback', '--model', 'blazeface', '--phases', 'ceiling', '--sets', 'samples', '--seconds', '1'], 300_000);
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(run.stdout);
    expect(report.provider).toBe('cpu (fallback)');
    expect(report.settings.batch).toBe(32);
    expect(report.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^--providers cuda fell back to CPU: every figure is a CPU figure/)]));
    expect(report.gpu.wanted).toBe(true);
    if (!hasNvidiaSmi) expect(report.gpu).toMatchObject({ absent: 'nvidia-smi not found', phases: [] });
  });
});
