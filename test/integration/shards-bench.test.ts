import { FacefleetProcess } from '../../tools/harness/facefleet-process';
import type { BenchReport } from '../../tools/bench/bench-report';

/**
 * `facefleet bench --phases fleet` at a small count, on a queue split in two: it completes and reports
 * what an image costs redis-server, enqueue and processing. Figures are never asserted on, only that
 * the measurement ran over every image and produced numbers.
 */
describe('facefleet bench --phases fleet', () => {
  it('measures redis-server CPU per image of a sharded fleet', async () => {
    // The benchmark's settings must come from its flags alone, not from the test runner's environment.
    const child = FacefleetProcess.spawn(['bench', '--json', '--phases', 'fleet', '--model', 'blazeface', '--workers', '1', '--shards', '2', '--count', '24', '--batch', '4', '--sets', 'samples'], { scrub: /^(FACEFLEET_(?!MODEL_CACHE$)|REDIS_URL$)/ });
    try {
      const { code } = await child.waitForExit(300_000);
      expect({ code, stderr: code === 0 ? '' : child.stderr }).toEqual({ code: 0, stderr: '' });
      const report = JSON.parse(child.stdout) as BenchReport;
      const f = report.fleet!;
      expect(f).toMatchObject({ workers: 1, shards: 2, images: 24, failed: 0 });
      for (const v of [f.imagesPerSecond, f.redisUsPerImage.enqueue, f.redisUsPerImage.processing, f.redisUsPerImage.total, f.imagesPerSecondPerCore]) {
        expect(typeof v === 'number' && Number.isFinite(v) && v > 0).toBe(true);
      }
      expect(report.phases.pipeline).toBeNull();
    } finally {
      await child.kill();
    }
  }, 320_000);
});
