import { CHAOS_SCENARIOS, loadChaosOptions } from '../../tools/chaos/chaos-options';
import type { ChaosRow } from '../../tools/chaos/chaos-report';
import { ChaosReport, runChaos } from '../../tools/chaos/run-chaos';

/**
 * The chaos suite at its small size, as CI runs it: every scenario against a real password-protected
 * Redis with AOF, a real S3-compatible server and real `facefleet worker` processes. Every image ends
 * with a result or a classified failure, no result is corrupt, no worker crashes on its own, results
 * are written once per key, and no output holds a credential.
 */
describe('facefleet chaos --scale small', () => {
  let report: ChaosReport;
  const rows = new Map<string, ChaosRow>();

  beforeAll(async () => {
    report = await runChaos(loadChaosOptions({ scale: 'small' }), (line) => process.stderr.write(`${line}\n`));
    for (const r of report.rows) rows.set(r.scenario, r);
  }, 600_000);

  it('runs every scenario', () => {
    expect(report.rows.map((r) => r.scenario)).toEqual([...CHAOS_SCENARIOS]);
  });

  for (const scenario of CHAOS_SCENARIOS) {
    it(`${scenario}: 0 lost, 0 corrupt, 0 crashes, results written once per key`, () => {
      const row = rows.get(scenario)!;
      expect({ scenario, lost: row.lost, corrupt: row.corrupt, crashes: row.crashes, duplicatesWritten: row.duplicatesWritten }).toEqual({ scenario, lost: 0, corrupt: 0, crashes: 0, duplicatesWritten: 0 });
      expect(row.images).toBeGreaterThan(0);
    });
  }

  it('worker-sigkill: the kills interrupted jobs in hand, which other workers finished', () => {
    const row = rows.get('worker-sigkill')!;
    // A machine fast enough to finish the run first may get fewer kills in; each one must hit jobs.
    expect(row.details.kills).toBeGreaterThanOrEqual(1);
    expect((row.details.activeAtKill as number[]).every((n) => n > 0)).toBe(true);
    // Work was repeated (jobs taken back from dead workers), but each key's result was written once.
    expect(row.duplicatesExecuted).toBeGreaterThan(0);
    expect(row.details.failed).toBe(0);
    expect(row.recoverySeconds).toBeGreaterThan(0);
  });

  it('redis-restart: the producer enqueueing across the restart reconnected and finished', () => {
    const row = rows.get('redis-restart')!;
    expect(row.details.secondHalfEnqueued).toBe(row.images - Math.floor(row.images / 2));
    expect(row.details.succeeded).toBe(row.images);
  });

  it('redis-stop: every worker reported not-ready while Redis was down, then recovered', () => {
    const row = rows.get('redis-stop')!;
    const notReady = row.details.notReadyAfterSeconds as Array<number | null>;
    expect(notReady.length).toBeGreaterThan(0);
    expect(notReady.every((s) => s !== null)).toBe(true);
    expect(row.recoverySeconds).not.toBeNull();
    expect(row.details.succeeded).toBe(row.images);
  });

  it('storage-outage: no job failed; readiness dropped while storage was down; jobs waited without using attempts', () => {
    const row = rows.get('storage-outage')!;
    expect(row.details.failed).toBe(0);
    expect((row.details.notReadyAfterSeconds as Array<number | null>).every((s) => s !== null)).toBe(true);
    expect(row.details.putBackWithoutAttempt).toBeGreaterThan(0);
    expect(row.recoverySeconds).not.toBeNull();
  });

  it('slow-inference: batches outlasted the lock, yet no job was taken by the second worker', () => {
    const row = rows.get('slow-inference')!;
    expect(row.details.batchesLongerThanLock).toBeGreaterThan(0);
    expect(row.duplicatesExecuted).toBe(0);
    expect(row.details.succeeded).toBe(row.images);
  });

  it('hostile-inputs: every hostile input ended as a permanent classified failure or a valid result; photos among them unaffected; RSS bounded', () => {
    const row = rows.get('hostile-inputs')!;
    expect(row.details.hostile).toBeGreaterThanOrEqual(300);
    expect({ photosFailed: row.details.photosFailed, unexpectedSuccesses: row.details.unexpectedSuccesses, transientFailures: row.details.transientFailures }).toEqual({ photosFailed: 0, unexpectedSuccesses: 0, transientFailures: 0 });
    const byKind = row.details.byKind as Record<string, Record<string, number>>;
    expect(Object.keys(byKind).length).toBeGreaterThanOrEqual(16);
    expect(byKind['bad-key']).toEqual({ E_BAD_KEY: expect.any(Number) });
    expect(byKind['zero-bytes']).toEqual({ E_UNSUPPORTED_FORMAT: expect.any(Number) });
    expect(Object.keys(byKind['real-bomb'])).toEqual(['E_TOO_LARGE']);
    expect(row.details.peakRssMb).toBeLessThan(1536);
  });

  it('hostile-access: jobs reaching outside the allowed roots and buckets, FIFOs and big or foreign results all fail permanently; nothing written outside; serve survives slow uploads; wrong passwords end at once', () => {
    const row = rows.get('hostile-access')!;
    const d = row.details as Record<string, unknown>;
    expect({ wedged: d.wedged, unexpectedOutcomes: d.unexpectedOutcomes, transientFailures: d.transientFailures, writtenOutside: d.writtenOutside, foreignChanged: d.foreignChanged, bigChanged: d.bigChanged }).toEqual({
      wedged: false, unexpectedOutcomes: 0, transientFailures: 0, writtenOutside: [], foreignChanged: false, bigChanged: false,
    });
    const byKind = d.byKind as Record<string, Record<string, number>>;
    expect(byKind['fifo-source']).toEqual({ E_NOT_FOUND: d.fifos });
    for (const kind of ['results-in-etc', 'results-outside-roots', 'results-lookalike-folder', 'results-lookalike-bucket', 'source-outside-roots', 'source-lookalike-bucket', 'big-result', 'foreign-result']) expect(byKind[kind]).toEqual({ E_BAD_KEY: 1 });
    expect(byKind.photo).toEqual({ ok: d.photos });
    // A 1 GiB file where a result goes is not read whole.
    expect(d.peakRssMb).toBeLessThan(1024);
    const slow = d.slowBody as { clients: number; realDuring: number; realAfter: number; facesAfter: number; stillOpen: number; answered408: number };
    expect(slow).toMatchObject({ realDuring: 429, realAfter: 200, stillOpen: 0 });
    expect(slow.answered408).toBeGreaterThanOrEqual(2);
    expect(slow.facesAfter).toBeGreaterThan(0);
    for (const [command, r] of Object.entries(d.wrongPassword as Record<string, { exitCode: number; seconds: number; classified: boolean }>)) {
      expect({ command, exitCode: r.exitCode, classified: r.classified }).toEqual({ command, exitCode: 64, classified: true });
      expect(r.seconds).toBeLessThan(20);
    }
  });

  it('backlog: memory per waiting job measured; admission control paused the producer within a chunk of its bound, with a clear message', () => {
    const row = rows.get('backlog')!;
    expect(row.details.waiting).toBe(row.images);
    expect(row.details.bytesPerJob).toBeGreaterThan(100);
    const admission = row.details.admission as { limitMb: number; pausedAtMb: number | null };
    expect(admission.pausedAtMb).not.toBeNull();
    expect(admission.pausedAtMb!).toBeLessThan(admission.limitMb + 2);
    expect(row.details.cliMessage).toMatch(/^facefleet enqueue: waiting: Redis uses \d+ MiB > --max-redis-memory-mb \d+/);
  });

  it('no output of the run holds the S3 secret key or the Redis password (nor the wrong ones a misconfigured worker was given)', () => {
    expect(report.secrets.files).toBeGreaterThan(0);
    expect(report.secrets.findings).toEqual([]);
  });
});
