import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseReason } from '../../src/errors';
import { jobIdFor, parseJobData } from '../../src/queue/job-data';
import { parseResult } from '../../src/queue/result-schema';
import { allFixtures, FixtureEntry } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { describeWith } from '../support/prerequisites';
import { enqueuePy, PYTHON_BULLMQ, PythonReport } from '../support/python-producer';

/**
 * The cross-language contract: examples/python/enqueue.py (BullMQ's PyPI package) enqueues by the
 * documented v1 payload, job ids and run record, under a Redis Cluster-style hash-tag prefix, and a
 * TypeScript worker processes the jobs as if `facefleet enqueue` had added them.
 */
const PREFIX = '{ffpy}';
const RUN_ID = 'py-run-1';
const MODEL = 'retinaface';

/** The fixture named `file` (from the one fixtures index). */
function fixture(file: string): FixtureEntry {
  const found = allFixtures().find((f) => f.file === file);
  if (!found) throw new Error(`fixture ${file} not found`);
  return found;
}

describeWith(PYTHON_BULLMQ, 'python producer → TypeScript worker', () => {
  const astronaut = fixture('astronaut.png');
  const coffee = fixture('coffee-noface.png');
  const notImage = fixture('not-an-image.jpg');
  const images = [astronaut, coffee, notImage];
  const sourceOf = (f: FixtureEntry) => `file://${path.resolve(f.path)}`;
  let redis: PrivateRedis;
  let fleet: TestFleet;
  let tmp: string;
  let resultsDir: string;

  /** Runs enqueue.py against the test queue; fails the test with its stderr when it exits non-zero. */
  function enqueue(sources: string[]): PythonReport {
    return enqueuePy(['--redis-url', redis.url, '--queue', fleet.queueName, '--prefix', PREFIX, '--results', `file://${resultsDir}/`, '--run-id', RUN_ID, '--model', MODEL, ...sources]);
  }

  /** The result file the worker writes for a fixture: `<results>/<object key>.json`. */
  const resultFileOf = (f: FixtureEntry) => path.join(resultsDir, `${path.resolve(f.path)}.json`);

  beforeAll(async () => {
    redis = await startRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-pyprod-'));
    resultsDir = path.join(tmp, 'results');
    fleet = openFleet(redis.url, uniqueQueue('pyprod'), PREFIX);
  });

  afterAll(async () => {
    await fleet?.close();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('enqueues under the contract: deterministic ids, v1 payloads, a sealed run record', async () => {
    const report = enqueue(images.map(sourceOf));
    const expectedIds = images.map((f) => jobIdFor(sourceOf(f), MODEL, RUN_ID));
    expect(report).toEqual({ runId: RUN_ID, enqueued: 3, duplicates: 0, jobIds: expectedIds });

    for (const [i, f] of images.entries()) {
      const job = await fleet.queue.getJob(expectedIds[i]);
      expect(job?.name).toBe('detect');
      expect(parseJobData(job?.data)).toEqual({ v: 1, source: sourceOf(f), results: `file://${resultsDir}/`, runId: RUN_ID, model: MODEL, key: path.resolve(f.path).slice(1) });
      expect(job?.opts.attempts).toBe(5);
    }
    // Every key of the queue, the run record included, lives under the hash tag (one cluster slot).
    const keys = await fleet.redis.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.startsWith(`${PREFIX}:${fleet.queueName}:`))).toEqual([]);
    expect(await fleet.redis.zscore(`${PREFIX}:${fleet.queueName}:facefleet:runs`, RUN_ID)).not.toBeNull();
    expect(await fleet.runs.get(RUN_ID)).toMatchObject({ total: 3, sealed: true, done: 0, failed: 0, model: MODEL, results: `file://${resultsDir}/` });
  });

  it('adds nothing when the same images are enqueued again in the run', () => {
    const again = enqueue(images.map(sourceOf));
    expect(again.enqueued).toBe(0);
    expect(again.duplicates).toBe(3);
  });

  it('is processed by the TypeScript worker: results for images, a classified failure for the rest', async () => {
    await fleet.startWorker();
    const status = await fleet.waitForRun(RUN_ID);
    expect(status).toMatchObject({ total: 3, done: 2, failed: 1, skipped: 0, failures: { E_UNSUPPORTED_FORMAT: 1 } });

    const face = parseResult(fs.readFileSync(resultFileOf(astronaut), 'utf8'));
    expect(face.faces.length).toBeGreaterThanOrEqual(1);
    expect(face).toMatchObject({ runId: RUN_ID, source: { url: sourceOf(astronaut) }, model: { id: MODEL }, image: { width: 512, height: 512 } });

    const noFace = parseResult(fs.readFileSync(resultFileOf(coffee), 'utf8'));
    expect(noFace).toMatchObject({ runId: RUN_ID, source: { url: sourceOf(coffee) }, image: { width: coffee.width, height: coffee.height } });
    expect(fs.existsSync(resultFileOf(notImage))).toBe(false);

    const failed = await fleet.queue.getFailed(0, -1);
    expect(failed.map((j) => j.id)).toEqual([jobIdFor(sourceOf(notImage), MODEL, RUN_ID)]);
    expect(parseReason(failed[0].failedReason).code).toBe('E_UNSUPPORTED_FORMAT');

    const completed = await fleet.queue.getCompleted(0, -1);
    expect(completed.map((j) => j.id).sort()).toEqual([astronaut, coffee].map((f) => jobIdFor(sourceOf(f), MODEL, RUN_ID)).sort());
  });
});
