import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FacefleetError } from '../../src/errors';
import { freePort } from '../../src/lifecycle/free-port';
import { waitForHttp } from './http-probe';
import { sleep } from './poll';
import { ExitStatus, exitOf, stopProcess } from './stop-process';

/** One request of versitygw's access log. */
export interface AccessLogEntry {
  /** S3 action, e.g. `PutObject`. */
  action: string;
  bucket: string;
  /** Object key (percent-decoded). */
  key: string;
  status: number;
}

/**
 * The versitygw binary (posix backend), as the test setup builds it: `$FACEFLEET_TOOLS/bin/versitygw`,
 * else `~/.cache/facefleet-tools/bin/versitygw`.
 */
export function findVersitygw(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    env.FACEFLEET_TOOLS ? path.join(env.FACEFLEET_TOOLS, 'bin', 'versitygw') : undefined,
    path.join(env.HOME || os.homedir(), '.cache', 'facefleet-tools', 'bin', 'versitygw'),
  ].filter((p): p is string => p !== undefined);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new FacefleetError('E_DEPENDENCY', `versitygw not found (looked at ${candidates.join(', ')}); build it with \`bash scripts/install-tools.sh\` (needs Go)`);
  return found;
}

/** Options of an {@link S3Server}. */
export interface S3ServerOptions {
  /** Folder for data, metadata and logs (created; kept across restarts). @defaultValue a new temp folder, removed on `stop()` */
  dir?: string;
  /** ms to wait for the health endpoint to answer. @defaultValue 15000 */
  readyTimeoutMs?: number;
}

const HEALTH_PATH = '/health';

/**
 * An S3-compatible server (versitygw, posix backend) on a loopback port with random root credentials
 * and an access log (every request with its action, key and status: how many times each result was
 * written). Given a folder, it can be stopped for an outage and started again on the same port, data
 * and metadata store; without one it lives in a temp folder that `stop()` removes.
 */
export class S3Server {
  /** Root access key. */
  readonly accessKeyId = `ff${randomBytes(8).toString('hex')}`;
  /** Root secret key. */
  readonly secretAccessKey = randomBytes(20).toString('hex');
  /** Signing region the server expects. */
  readonly region = 'us-east-1';
  /** The folder of data, metadata and logs. */
  readonly dir: string;
  /** The posix backend folder: one sub-folder per bucket. */
  readonly dataDir: string;
  /** Object metadata when the file system has no extended attributes. */
  readonly metaDir: string;
  /** The access log of every start, appended. */
  readonly accessLog: string;
  private readonly ownDir: boolean;
  private child: ChildProcess | undefined;
  private exited: Promise<ExitStatus> = Promise.resolve({ code: 0, signal: null });
  private portValue = 0;
  private metadata: 'xattr' | 'sidecar' = 'xattr';
  private readonly onExit = () => this.killNow();

  constructor(private readonly options: S3ServerOptions = {}) {
    this.ownDir = !options.dir;
    this.dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-s3-'));
    this.dataDir = path.join(this.dir, 'data');
    this.metaDir = path.join(this.dir, 'meta');
    this.accessLog = path.join(this.dir, 'access.log');
  }

  /** `http://127.0.0.1:<port>`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.portValue}`;
  }

  /** True while the server process runs. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Where object metadata lives: extended attributes, or the sidecar folder where the file system has none. */
  get metadataStore(): 'xattr' | 'sidecar' {
    return this.metadata;
  }

  /** The environment a worker or producer needs to reach this server. */
  clientEnv(): Record<string, string> {
    return { FACEFLEET_S3_ENDPOINT: this.endpoint, AWS_ACCESS_KEY_ID: this.accessKeyId, AWS_SECRET_ACCESS_KEY: this.secretAccessKey, AWS_REGION: this.region };
  }

  /** A client with the root credentials (the caller destroys it). */
  client(): S3Client {
    return new S3Client({
      endpoint: this.endpoint,
      region: this.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
    });
  }

  /**
   * Starts the server and waits until its health endpoint answers: the first time on a free port
   * (extended attributes for metadata, or a sidecar folder where the file system has none; two tries
   * each, on new ports, in case a port was taken meanwhile), later on the same port, folder and
   * metadata store.
   */
  async start(): Promise<void> {
    if (this.child) return;
    const binary = findVersitygw();
    fs.mkdirSync(this.dataDir, { recursive: true });
    fs.mkdirSync(this.metaDir, { recursive: true });
    // xattr metadata first (versitygw refuses to start where user xattrs are unsupported, e.g. old
    // tmpfs); then the sidecar folder, which works anywhere but keeps stale metadata when an object is
    // overwritten without any (versitygw v1.8.0).
    const tries: Array<'xattr' | 'sidecar'> = this.portValue === 0 ? ['xattr', 'xattr', 'sidecar', 'sidecar'] : Array.from({ length: 40 }, () => this.metadata);
    let output = '';
    for (const metadata of tries) {
      const port = this.portValue || (await freePort());
      const args = ['--port', `127.0.0.1:${port}`, '--region', this.region, '--health', HEALTH_PATH, '--quiet', '--access-log', this.accessLog, 'posix'];
      if (metadata === 'sidecar') args.push('--sidecar', this.metaDir);
      args.push(this.dataDir);
      const child = spawn(binary, args, {
        // A minimal environment, so no VGW_* or ROOT_* variable of the caller changes the server.
        env: { PATH: process.env.PATH ?? '', HOME: this.dir, ROOT_ACCESS_KEY_ID: this.accessKeyId, ROOT_SECRET_ACCESS_KEY: this.secretAccessKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      output = '';
      const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const exited = exitOf(child);
      let gone = false;
      void exited.then(() => (gone = true));
      if (await waitForHttp(`http://127.0.0.1:${port}${HEALTH_PATH}`, { timeoutMs: this.options.readyTimeoutMs ?? 15_000, gone: () => gone })) {
        this.child = child;
        this.exited = exited;
        this.portValue = port;
        this.metadata = metadata;
        process.on('exit', this.onExit);
        return;
      }
      await stopProcess(child, exited, 5000);
      // The old port may linger in TIME_WAIT for a moment after a stop.
      if (this.portValue) await sleep(250);
    }
    throw new FacefleetError('E_DEPENDENCY', `versitygw did not start (${binary}); its last output:\n${output}`);
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s); its folder stays, unless it is the server's own temp folder. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    process.off('exit', this.onExit);
    if (child) await stopProcess(child, this.exited, 5000);
    if (this.ownDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGKILLs the server at once (synchronous, for process exit). */
  killNow(): void {
    this.child?.kill('SIGKILL');
  }

  /** Creates a bucket with the root credentials. */
  async createBucket(name: string): Promise<void> {
    const client = this.client();
    try {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    } finally {
      client.destroy();
    }
  }

  /** Every request logged so far, optionally only those of one bucket. */
  readAccessLog(bucket?: string): AccessLogEntry[] {
    if (!fs.existsSync(this.accessLog)) return [];
    const entries: AccessLogEntry[] = [];
    // `… s3_<Action> <key as given> /<bucket>/<percent-encoded key>?<query> <status> …`: the raw key may
    // hold spaces, so the encoded request path is what is read.
    const line = /\ss3_(\w+)\s.*?\s\/([^/\s?]+)\/?([^\s?]*)(?:\?\S*)?\s(\d{3})\s/;
    for (const text of fs.readFileSync(this.accessLog, 'utf8').split('\n')) {
      const m = line.exec(text);
      if (!m) continue;
      if (bucket !== undefined && m[2] !== bucket) continue;
      let key = m[3];
      try {
        key = decodeURIComponent(key);
      } catch {
        // Left encoded: such a key was never one of ours.
      }
      entries.push({ action: m[1], bucket: m[2], key, status: Number(m[4]) });
    }
    return entries;
  }
}

/** Starts an {@link S3Server} in its own temp folder (removed on `stop()`) for one test file. */
export async function startS3Server(options: Omit<S3ServerOptions, 'dir'> = {}): Promise<S3Server> {
  const server = new S3Server(options);
  try {
    await server.start();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
