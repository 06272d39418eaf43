import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/lifecycle/free-port';
import { findRepoRoot } from '../../src/models/registry';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs } from '../../src/producer/key-sources';
import { allFixtures } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

const cli = path.join(findRepoRoot(), 'bin', 'facefleet.js');

describe('dead-letter view: facefleet failed list | retry | export', () => {
  let redis: PrivateRedis;
  let fleet: TestFleet;
  let tmp: string;
  const envBefore = { ...process.env };
  const bad = allFixtures().filter((f) => f.expectError);
  const ff = (...args: string[]) =>
    spawnSync(process.execPath, [cli, ...args, '--redis-url', redis.url, '--queue', fleet.queueName], { encoding: 'utf8', timeout: 60_000 });

  beforeAll(async () => {
    redis = await startRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-dlq-'));
    // An S3 endpoint nobody listens on: s3:// jobs fail with the transient E_STORAGE.
    Object.assign(process.env, { FACEFLEET_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret', AWS_REGION: 'us-east-1' });
    fleet = openFleet(redis.url, uniqueQueue('dlq'));
    await fleet.startWorker({ batch: 2 });
    const keys = [...bad.map((f) => `file://${f.path}`), 's3://unreachable/photo.jpg'];
    await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(keys, 'file:///'), {
      runId: 'dlq-1',
      results: `file://${tmp}/out`,
      model: 'retinaface',
      policy: { attempts: 1, backoffMs: 10, keepCompleted: 10, keepFailed: 100 },
    });
    await fleet.waitForRun('dlq-1');
  });
  afterAll(async () => {
    process.env = envBefore;
    await fleet?.close();
    await redis?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lists failed jobs with their codes, filtered by run and code', () => {
    const all = JSON.parse(ff('failed', 'list', '--json').stdout) as Array<{ code: string; key: string; runId: string }>;
    expect(all).toHaveLength(bad.length + 1);
    expect(all.every((e) => e.runId === 'dlq-1')).toBe(true);
    expect(all.find((e) => e.key === 'photo.jpg')?.code).toBe('E_STORAGE');
    const decode = JSON.parse(ff('failed', 'list', '--json', '--code', 'E_DECODE').stdout) as Array<{ code: string }>;
    expect(decode.length).toBeGreaterThan(0);
    expect(decode.every((e) => e.code === 'E_DECODE')).toBe(true);
    expect(JSON.parse(ff('failed', 'list', '--json', '--run', 'other').stdout)).toEqual([]);
  });

  it('exports a manifest that enqueue --manifest accepts, keeping keys', () => {
    const manifest = path.join(tmp, 'failed.jsonl');
    expect(ff('failed', 'export', '--out', manifest).status).toBe(0);
    const lines = fs.readFileSync(manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(bad.length + 1);
    const again = spawnSync(process.execPath, [cli, 'enqueue', '--manifest', manifest, '--results', `file://${tmp}/out`, '--run-id', 'dlq-2', '--attempts', '1', '--json', '--redis-url', redis.url, '--queue', fleet.queueName], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ runId: 'dlq-2', enqueued: bad.length + 1 });
  });

  it('retries only the transient failures unless --all', async () => {
    await fleet.waitForRun('dlq-2');
    const out = JSON.parse(ff('failed', 'retry', '--run', 'dlq-1').stdout);
    expect(out).toEqual({ retried: 1, kept: bad.length });
  });
});
