import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/lifecycle/free-port';
import { enqueueRun, EnqueueOptions, EnqueueReport } from '../../src/producer/enqueue-run';
import type { SourceKey } from '../../src/producer/key-sources';
import { createRedis } from '../../src/queue/connection';
import { RunStore } from '../../src/queue/run-store';
import { s3ClientConfigFromEnv } from '../../src/storage/s3-client-config';
import { S3Store } from '../../src/storage/s3-store';
import { FacefleetProcess } from '../harness/facefleet-process';
import { RedisServer, uniqueQueue } from '../harness/redis';
import { S3Server } from '../harness/s3-server';

/** Bucket of the source images. */
export const PHOTOS_BUCKET = 'chaos-photos';
/** Bucket of the results. */
export const RESULTS_BUCKET = 'chaos-results';

/** Retention of chaos runs: every job is kept so the audit can read each one's attempts. */
export const AUDIT_POLICY = { attempts: 5, backoffMs: 2000, keepCompleted: 10_000_000, keepFailed: 10_000_000 } as const;

/**
 * Environment names never inherited by a process of the suite: it gets only what the suite passes
 * (the model cache and the tools folder are kept, so workers find their models and helpers).
 */
export const SCRUBBED_ENV = /^(FACEFLEET_(?!MODEL_CACHE$|TOOLS$)|REDIS_URL$|AWS_)/;

/** How one `facefleet worker` or `serve` process of the suite runs. */
export interface ChaosProcessOptions {
  /** Worker id (also the log file's name). */
  id: string;
  /** `facefleet worker` flags (queue, batch, lock duration …). */
  args: string[];
  /** Port of `/metrics`, `/healthz`, `/readyz` on 127.0.0.1 (0: none). */
  metricsPort: number;
  /**
   * The command run: `worker`, or `serve` (whose HTTP port, given as `--port` in `args`, is the one
   * probed; `metricsPort` must then be that port). @defaultValue `worker`
   */
  command?: 'worker' | 'serve';
  /** Environment on top of the suite's (`REDIS_URL`, S3 endpoint and credentials). */
  env?: Record<string, string>;
}

/** A queue of one scenario with its producer-side handles. */
export interface ChaosQueue {
  name: string;
  queue: Queue;
  runs: RunStore;
  redis: Redis;
  close(): Promise<void>;
}

/**
 * What every scenario runs against: a password-protected Redis with AOF and an S3-compatible server
 * (both restartable on their ports), two buckets, a folder of worker logs, and the credentials only
 * ever passed through the environment, so the suite can grep every output for them at the end.
 */
export class ChaosEnv {
  readonly redis: RedisServer;
  readonly s3: S3Server;
  readonly logDir: string;
  /** Folder for scenario artefacts (metrics dumps, failed reasons). */
  readonly outDir: string;
  /** The Redis password (a test credential the secret scan looks for). */
  readonly redisPassword = randomBytes(18).toString('hex');
  private readonly workers: FacefleetProcess[] = [];
  private readonly queues: ChaosQueue[] = [];
  private uploader: S3Client | undefined;
  private storeValue: S3Store | undefined;
  /** Ends every child if this process exits before `close()` (an interrupted run leaves nothing behind). */
  private readonly onExit = () => {
    for (const w of this.workers) w.signal('SIGKILL');
    this.redis.killNow();
    this.s3.killNow();
  };

  private constructor(readonly dir: string) {
    this.redis = new RedisServer({ dir: path.join(dir, 'redis'), password: this.redisPassword, aof: true });
    this.s3 = new S3Server({ dir: path.join(dir, 's3') });
    this.logDir = path.join(dir, 'logs');
    this.outDir = path.join(dir, 'out');
  }

  /** Starts Redis and the S3 server and creates the buckets. */
  static async open(dir: string): Promise<ChaosEnv> {
    fs.mkdirSync(dir, { recursive: true });
    const env = new ChaosEnv(dir);
    process.on('exit', env.onExit);
    fs.mkdirSync(env.logDir, { recursive: true });
    fs.mkdirSync(env.outDir, { recursive: true });
    try {
      await env.redis.start();
      await env.s3.start();
      await env.s3.createBucket(PHOTOS_BUCKET);
      await env.s3.createBucket(RESULTS_BUCKET);
    } catch (err) {
      await env.close();
      throw err;
    }
    return env;
  }

  /** What a worker or producer process needs: `REDIS_URL` with the password, S3 endpoint and keys. */
  processEnv(): Record<string, string> {
    return { REDIS_URL: this.redis.url, ...this.s3.clientEnv() };
  }

  /** A fresh queue (random name) with producer handles on it. */
  openQueue(label: string): ChaosQueue {
    const name = uniqueQueue(`chaos-${label}`);
    const redis = createRedis(this.redis.url);
    redis.on('error', () => undefined);
    const queue = new Queue(name, { connection: redis });
    queue.on('error', () => undefined);
    const runs = new RunStore(redis, { queue: name, prefix: 'bull' });
    const q: ChaosQueue = {
      name,
      queue,
      runs,
      redis,
      close: async () => {
        await queue.close().catch(() => undefined);
        await redis.quit().catch(() => redis.disconnect());
      },
    };
    this.queues.push(q);
    return q;
  }

  /** Enqueues keys as one run with the audit retention policy. */
  enqueue(q: ChaosQueue, keys: Iterable<SourceKey> | AsyncIterable<SourceKey>, options: Omit<EnqueueOptions, 'policy' | 'model'> & { model?: string }): Promise<EnqueueReport> {
    const source = (async function* () {
      yield* keys;
    })();
    return enqueueRun(q.queue, q.redis, q.runs, source, { model: 'blazeface', policy: { ...AUDIT_POLICY }, ...options });
  }

  /**
   * Starts a `facefleet worker` on a queue with the suite's environment; its metrics server listens on
   * a free loopback port when `metrics` is set.
   */
  async spawnWorker(id: string, queue: string, args: string[], options: { metrics?: boolean; env?: Record<string, string> } = {}): Promise<FacefleetProcess> {
    return this.spawnProcess({ id, args: ['--queue', queue, ...args], metricsPort: options.metrics ? await freePort() : 0, ...(options.env ? { env: options.env } : {}) });
  }

  /**
   * Starts a `facefleet worker` or `serve` child with the suite's environment (plus `env`); killed on
   * `close()`. Its output (JSON log lines) goes to `<logDir>/<id>.log`, which the suite later greps
   * for credentials and counts lines in.
   */
  spawnProcess(options: ChaosProcessOptions): FacefleetProcess {
    const command = options.command ?? 'worker';
    const metrics = command === 'serve' ? [] : options.metricsPort > 0 ? ['--metrics-port', String(options.metricsPort), '--metrics-host', '127.0.0.1'] : ['--metrics-port', '0'];
    // The suite enqueues BlazeFace jobs: reliability does not depend on the model, and the cheapest one
    // keeps the scenarios short.
    const args = [command, '--model', 'blazeface', ...(command === 'worker' ? ['--worker-id', options.id] : []), ...metrics, ...options.args];
    const child = FacefleetProcess.spawn(args, {
      name: options.id,
      scrub: SCRUBBED_ENV,
      env: { MALLOC_ARENA_MAX: '2', ...this.processEnv(), ...options.env },
      logFile: path.join(this.logDir, `${options.id}.log`),
      keepChars: 6000,
      httpPort: options.metricsPort,
    });
    this.workers.push(child);
    return child;
  }

  /** The results bucket as a store (for the audit), with the root credentials. */
  get resultsStore(): S3Store {
    this.storeValue ??= new S3Store(RESULTS_BUCKET, { ...s3ClientConfigFromEnv(this.s3.clientEnv()), credentials: { accessKeyId: this.s3.accessKeyId, secretAccessKey: this.s3.secretAccessKey } });
    return this.storeValue;
  }

  /** Uploads objects into the photos bucket, `parallel` at a time. */
  async upload(objects: ReadonlyArray<{ key: string; body: Buffer }>, parallel = 16): Promise<void> {
    this.uploader ??= this.s3.client();
    const client = this.uploader;
    let next = 0;
    const lane = async () => {
      while (next < objects.length) {
        const o = objects[next++];
        await client.send(new PutObjectCommand({ Bucket: PHOTOS_BUCKET, Key: o.key, Body: o.body }));
      }
    };
    await Promise.all(Array.from({ length: parallel }, lane));
  }

  /** Every worker spawned so far. */
  get spawned(): readonly FacefleetProcess[] {
    return this.workers;
  }

  /** Kills every worker still running, closes queues and stops both servers. */
  async close(): Promise<void> {
    process.off('exit', this.onExit);
    await Promise.all(this.workers.map((w) => w.kill()));
    for (const q of this.queues) await q.close();
    this.uploader?.destroy();
    await this.storeValue?.close();
    await this.s3.stop();
    await this.redis.stop();
  }
}
