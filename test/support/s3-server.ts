import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findVersitygw } from '../../src/chaos/chaos-s3';
import { httpStatus } from '../../src/lifecycle/http-status';
import { freePort } from './free-port';

/** A running versitygw (posix backend) on a loopback port, with its root credentials. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Root access key (random per server). */
  accessKeyId: string;
  /** Root secret key (random per server). */
  secretAccessKey: string;
  /** Signing region the server expects. */
  region: string;
  /** The posix backend folder: one sub-folder per bucket. */
  dataDir: string;
  /** Where object metadata lives: extended attributes, or a sidecar folder when the file system has none. */
  metadataStore: 'xattr' | 'sidecar';
  /** Creates a bucket through the S3 API with the root credentials. */
  createBucket(name: string): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its folders. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** Milliseconds to wait for the health endpoint to answer. @defaultValue 15000 */
  readyTimeoutMs?: number;
}

const HEALTH_PATH = '/health';
const REGION = 'us-east-1';

/** The versitygw binary, found as the chaos suite finds it (`$FACEFLEET_TOOLS`, else the tools cache). */
export { findVersitygw as versitygwBinary } from '../../src/chaos/chaos-s3';

/**
 * Starts versitygw with its posix backend in a fresh temporary folder, listening only on a free
 * 127.0.0.1 port, and waits until its health endpoint answers. Retries on a new port when the process
 * exits during start-up (the port was taken meanwhile, or the file system has no user xattrs).
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const binary = findVersitygw();
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'facefleet-s3-'));
  const dataDir = path.join(home, 'data');
  const sidecarDir = path.join(home, 'meta');
  await fsp.mkdir(dataDir);
  await fsp.mkdir(sidecarDir);
  const accessKeyId = `ff${randomBytes(8).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');

  let lastOutput = '';
  // xattr metadata first (versitygw refuses to start where user xattrs are unsupported, e.g. old tmpfs);
  // then the sidecar folder, which works anywhere but keeps stale metadata when an object is overwritten
  // without any (versitygw v1.8.0). Two tries each, on new ports, in case a port was taken meanwhile.
  for (const metadataStore of ['xattr', 'xattr', 'sidecar', 'sidecar'] as const) {
    const port = await freePort();
    const args = ['--port', `127.0.0.1:${port}`, '--region', REGION, '--health', HEALTH_PATH, '--quiet', 'posix'];
    if (metadataStore === 'sidecar') args.push('--sidecar', sidecarDir);
    args.push(dataDir);
    const child = spawn(binary, args, {
      // A minimal environment, so no VGW_* or ROOT_* variable of the caller changes the server.
      env: { PATH: process.env.PATH ?? '', HOME: home, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer): void => {
      if (output.length < 200) output.push(chunk.toString());
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const endpoint = `http://127.0.0.1:${port}`;
    const ready = await waitReady(endpoint, child, exited, readyTimeoutMs);
    if (ready) {
      const info = { endpoint, accessKeyId, secretAccessKey, region: REGION, dataDir, metadataStore };
      return running(child, exited, info, home);
    }
    await kill(child, exited);
    lastOutput = output.join('');
  }
  await fsp.rm(home, { recursive: true, force: true });
  throw new Error(`versitygw did not become ready (${binary}); last output:\n${lastOutput}`);
}

function running(
  child: ChildProcess,
  exited: Promise<void>,
  info: Omit<S3Server, 'stop' | 'createBucket'>,
  home: string,
): S3Server {
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  return {
    ...info,
    async createBucket(name: string): Promise<void> {
      const client = new S3Client({
        endpoint: info.endpoint,
        region: info.region,
        forcePathStyle: true,
        credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        process.removeListener('exit', onExit);
        await kill(child, exited);
        await fsp.rm(home, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** Polls the health endpoint; false when the process exits or the deadline passes first. */
async function waitReady(endpoint: string, child: ChildProcess, exited: Promise<void>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  while (Date.now() < deadline && !gone && child.exitCode === null) {
    if ((await httpStatus(`${endpoint}${HEALTH_PATH}`)) === 200) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** SIGTERM, then SIGKILL when the process is still alive after 5 s. */
async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), 5_000);
  });
  const stillRunning = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (stillRunning) {
    child.kill('SIGKILL');
    await exited;
  }
}
