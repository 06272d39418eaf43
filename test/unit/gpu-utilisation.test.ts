import { formatGpuReport, GpuPhases, GpuSample, parseDeviceLine, parseSampleLine, parseTimestamp, SAMPLE_FIELDS, SampleSource, summariseSamples } from '../../tools/bench/gpu-utilisation';

// Lines as nvidia-smi prints them for --query-gpu=<fields> --format=csv,noheader,nounits (its documented
// CSV output: values separated by ", ", [N/A] or [Not Supported] where a device reports nothing).

describe('nvidia-smi CSV', () => {
  it('queries timestamp, index, utilisation and memory, in that order', () => {
    expect(SAMPLE_FIELDS).toEqual(['timestamp', 'index', 'utilization.gpu', 'memory.used', 'memory.total']);
  });

  it('reads nvidia-smi timestamps as local time, with or without milliseconds', () => {
    expect(parseTimestamp('2024/05/01 12:34:56.789')).toBe(new Date(2024, 4, 1, 12, 34, 56, 789).getTime());
    expect(parseTimestamp('2024/05/01 12:34:56')).toBe(new Date(2024, 4, 1, 12, 34, 56, 0).getTime());
    expect(parseTimestamp('yesterday')).toBeNull();
  });

  it('parses a sample line', () => {
    expect(parseSampleLine('2024/05/01 12:34:56.500, 0, 87, 5120, 23028')).toEqual({ at: new Date(2024, 4, 1, 12, 34, 56, 500).getTime(), index: 0, utilisation: 87, memoryUsedMiB: 5120, memoryTotalMiB: 23028 });
  });

  it('keeps a sample whose values the device does not report, as nulls', () => {
    expect(parseSampleLine('2024/05/01 12:34:56.500, 1, [N/A], [Not Supported], 16384')).toMatchObject({ index: 1, utilisation: null, memoryUsedMiB: null, memoryTotalMiB: 16384 });
  });

  it('ignores lines that are not samples', () => {
    for (const line of ['', 'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.', '0, 87, 5120, 23028', 'not a time, 0, 1, 2, 3']) expect(parseSampleLine(line)).toBeNull();
  });

  it('parses a device line, a name with a comma included', () => {
    expect(parseDeviceLine('0, NVIDIA A10G, 23028, 550.54.15')).toEqual({ index: 0, name: 'NVIDIA A10G', memoryTotalMiB: 23028, driver: '550.54.15' });
    expect(parseDeviceLine('1, Tesla T4, rev, 15360, 535.104.05')).toEqual({ index: 1, name: 'Tesla T4, rev', memoryTotalMiB: 15360, driver: '535.104.05' });
    expect(parseDeviceLine('No devices were found')).toBeNull();
  });
});

describe('summariseSamples', () => {
  const s = (index: number, utilisation: number | null, memoryUsedMiB: number | null, t = 0): GpuSample => ({ at: t, index, utilisation, memoryUsedMiB, memoryTotalMiB: 16000 });

  it('gives the mean and peak of utilisation and memory per device, in device order', () => {
    const out = summariseSamples([s(1, 10, 100), s(0, 50, 1000), s(0, 100, 3000), s(1, 30, 300), s(0, 0, 2000)]);
    expect(out).toEqual([
      { index: 0, samples: 3, utilisation: { mean: 50, peak: 100 }, memoryMiB: { mean: 2000, peak: 3000, total: 16000 } },
      { index: 1, samples: 2, utilisation: { mean: 20, peak: 30 }, memoryMiB: { mean: 200, peak: 300, total: 16000 } },
    ]);
  });

  it('leaves out values a device does not report, and says null when it reports none', () => {
    const [d] = summariseSamples([s(0, null, 500), s(0, null, 700)]);
    expect(d.utilisation).toBeNull();
    expect(d.memoryMiB).toEqual({ mean: 600, peak: 700, total: 16000 });
  });
});

/** Samples handed in by the test, on a clock the test moves. */
function scriptedSource(): SampleSource & { clock: number; add(s: GpuSample): void; stopped: boolean } {
  const samples: GpuSample[] = [];
  const source = {
    samples,
    clock: 0,
    stopped: false,
    now: () => source.clock,
    add: (sample: GpuSample) => samples.push(sample),
    async stop() {
      source.stopped = true;
    },
  };
  return source;
}

describe('GpuPhases', () => {
  const sample = (t: number, utilisation: number): GpuSample => ({ at: t, index: 0, utilisation, memoryUsedMiB: utilisation * 10, memoryTotalMiB: 4000 });

  it('keeps the samples taken while each measurement ran, every round of it together', async () => {
    const source = scriptedSource();
    const gpu = new GpuPhases(source, { wanted: true, devices: [{ index: 0, name: 'GPU', memoryTotalMiB: 4000, driver: '1' }], intervalMs: 500 });
    const measure = (from: number, to: number) => async () => {
      source.clock = to;
      return from;
    };
    source.clock = 100;
    await gpu.during('samples', 'ceiling', measure(100, 200));
    source.clock = 300;
    await gpu.during('samples', 'in-process', measure(300, 400));
    source.clock = 500;
    await gpu.during('samples', 'ceiling', measure(500, 600));
    // Read after the fact, as nvidia-smi's buffered output may be: the times decide, not the order read.
    for (const [t, u] of [[50, 1], [150, 80], [250, 2], [350, 40], [360, 60], [450, 3], [550, 100], [650, 4]]) source.add(sample(t, u));
    await gpu.stop();
    expect(source.stopped).toBe(true);
    const report = gpu.report();
    expect(report.phases.map((p) => [p.set, p.phase, p.devices[0]?.samples, p.devices[0]?.utilisation])).toEqual([
      ['samples', 'ceiling', 2, { mean: 90, peak: 100 }],
      ['samples', 'in-process', 2, { mean: 50, peak: 60 }],
    ]);
    expect(report.phases[1].devices[0].memoryMiB).toEqual({ mean: 500, peak: 600, total: 4000 });
  });

  it('passes the measurement\'s result and error through', async () => {
    const gpu = new GpuPhases(scriptedSource(), { wanted: false, devices: [] });
    await expect(gpu.during('s', 'ceiling', async () => 42)).resolves.toBe(42);
    await expect(gpu.during('s', 'ceiling', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gpu.report().phases).toHaveLength(1);
  });

  it('measures nothing without a source, and says why', async () => {
    const gpu = new GpuPhases(null, { wanted: true, devices: [], absent: 'nvidia-smi not found' });
    await expect(gpu.during('s', 'ceiling', async () => 'ran')).resolves.toBe('ran');
    expect(gpu.report()).toMatchObject({ wanted: true, absent: 'nvidia-smi not found', phases: [] });
  });
});

describe('formatGpuReport', () => {
  const base = { devices: [], intervalMs: 500, phases: [] };

  it('prints nothing without a GPU unless one was asked for, then one line', () => {
    expect(formatGpuReport(null)).toEqual([]);
    expect(formatGpuReport({ ...base, wanted: false, absent: 'nvidia-smi not found' })).toEqual([]);
    expect(formatGpuReport({ ...base, wanted: true, absent: 'nvidia-smi not found' })).toEqual(['GPU: none found (nvidia-smi not found); no GPU utilisation measured']);
  });

  it('prints the device and a row per measurement', () => {
    const lines = formatGpuReport({
      wanted: true,
      devices: [{ index: 0, name: 'NVIDIA A10G', memoryTotalMiB: 23028, driver: '550.54.15' }],
      intervalMs: 500,
      phases: [{ set: 'samples', phase: 'ceiling', devices: [{ index: 0, samples: 20, utilisation: { mean: 87.4, peak: 99 }, memoryMiB: { mean: 5120, peak: 6000, total: 23028 } }] }],
    });
    expect(lines[0]).toBe('GPU 0: NVIDIA A10G, 23,028 MiB, driver 550.54.15');
    expect(lines[1]).toContain('nvidia-smi every 500 ms');
    expect(lines[2].split(/\s{2,}/)).toEqual(['set', 'measurement', 'samples', 'util mean', 'util peak', 'memory mean', 'memory peak']);
    expect(lines[3].split(/\s{2,}/)).toEqual(['samples', 'ceiling', '20', '87%', '99%', '5,120 MiB', '6,000 MiB']);
  });
});
