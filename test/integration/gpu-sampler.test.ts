import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GpuPhases, listGpus, sampleWithNvidiaSmi } from '../../tools/bench/gpu-utilisation';

/**
 * The benchmark's GPU sampler against stand-ins for nvidia-smi: shell scripts that print nvidia-smi's
 * documented CSV output (`--format=csv,noheader,nounits`) for the two queries the sampler makes, or
 * fail the way nvidia-smi does without a driver. They test the spawning, reading and parsing of that
 * output, nothing of a GPU.
 */
describe('GPU sampling through nvidia-smi', () => {
  let dir: string;
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
  };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-nvidia-smi-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists the GPUs, samples while a measurement runs and stops the sampler', async () => {
    const smi = script(
      'nvidia-smi',
      [
        'case "$*" in',
        '  *--query-gpu=index,name,memory.total,driver_version*) echo "0, NVIDIA Stand-in, 16384, 550.54.15"; exit 0 ;;',
        `  *--query-gpu=timestamp,index,utilization.gpu,memory.used,memory.total*-lms*) while :; do printf '%s, 0, 40, 1000, 16384\\n' "$(date +'%Y/%m/%d %H:%M:%S.%3N')"; sleep 0.05; done ;;`,
        'esac',
        'exit 2',
      ].join('\n'),
    );
    const listed = await listGpus(smi);
    expect(listed).toEqual({ devices: [{ index: 0, name: 'NVIDIA Stand-in', memoryTotalMiB: 16384, driver: '550.54.15' }] });
    const source = sampleWithNvidiaSmi(smi, 50);
    const gpu = new GpuPhases(source, { wanted: true, devices: 'devices' in listed ? listed.devices : [], intervalMs: 50 });
    await gpu.during('samples', 'ceiling', async () => {
      const t0 = source.now();
      // Until three samples taken during this measurement have been read.
      while (source.samples.filter((s) => s.at >= t0).length < 3) await new Promise((r) => setTimeout(r, 20));
    });
    await gpu.stop();
    const [phase] = gpu.report().phases;
    expect(phase.set).toBe('samples');
    expect(phase.phase).toBe('ceiling');
    expect(phase.devices).toHaveLength(1);
    expect(phase.devices[0].samples).toBeGreaterThanOrEqual(3);
    expect(phase.devices[0]).toMatchObject({ index: 0, utilisation: { mean: 40, peak: 40 }, memoryMiB: { mean: 1000, peak: 1000, total: 16384 } });
    // Stopped: nothing more is read.
    const read = source.samples.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(source.samples.length).toBe(read);
  });

  it('reports no GPU when nvidia-smi fails, with its first words', async () => {
    const smi = script('nvidia-smi-nodriver', `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."; exit 9`);
    await expect(listGpus(smi)).resolves.toEqual({ absent: `${smi} failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.` });
    const gpu = await GpuPhases.start(true, smi);
    expect(gpu.report()).toMatchObject({ wanted: true, phases: [] });
  });

  it('reports no GPU when nvidia-smi is not there, and measures through it unchanged', async () => {
    const missing = path.join(dir, 'no-such-nvidia-smi');
    const gpu = await GpuPhases.start(false, missing);
    await expect(gpu.during('samples', 'pipeline', async () => 7)).resolves.toBe(7);
    await gpu.stop();
    expect(gpu.report()).toEqual({ wanted: false, absent: `${missing} not found`, devices: [], intervalMs: 500, phases: [] });
  });
});
