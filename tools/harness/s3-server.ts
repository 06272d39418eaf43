import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FacefleetError } from '../errors';
import { freePort } from '../lifecycle/free-port';
import { httpStatus } from '../lifecycle/http-status';

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

/**
 * An S3-compatible server (versitygw, posix backend) the chaos suite can stop for an outage and start
 * again on the same loopback port and data folder, with random root credentials and an access log
 * (every request with its action, key and status: how many times each result was written).
 */
export class ChaosS3 {
  /** Root access key. */
  readonly accessKeyId = `ff${randomBytes(8).toString('hex')}`;
  /** Root secret key. */
  readonly secretAccessKey = randomBytes(20).toString('hex');
  readonly region = 'us-east-1';
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private portValue = 0;
  private sidecar = false;
  /** The posix backend folder: one sub-folder per bucket. */
  readonly dataDir: string;
  /** Object metadata when the file system has no extended attributes. */
  readonly metaDir: string;
  /** The access log of every start, appended. */
  readonly accessLog: string;

  /** @param dir - Folder for data, metadata and logs (created; kept across restarts). */
  constructor(private readonly dir: string) {
    this.dataDir = path.join(dir, 'data');
    this.metaDir = path.join(dir, 'meta');
    this.accessLog = path.join(dir, 'access.log');
  }

  /** `http://127.0.0.1:<port>`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.portValue}`;
  }

  /** True while the server process runs. */
  get running(): boolean {
    return this.child !== undefined;
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
   * Starts the server: the first time on a free port (extended attributes for metadata, or a sidecar
   * folder where the file system has none); later on the same port, folder and metadata store.
   */
  async start(): Promise<void> {
    if (this.child) return;
    const binary = findVersitygw();
    fs.mkdirSync(this.dataDir, { recursive: true });
    fs.mkdirSync(this.metaDir, { recursive: true });
    const tries: boolean[] = this.portValue === 0 ? [false, false, true, true] : Array.from({ length: 40 }, () => this.sidecar);
    for (const sidecar of tries) {
      const port = this.portValue || (await freePort());
      const args = ['--port', `127.0.0.1:${port}`, '--region', this.region, '--health', '/health', '--quiet', '--access-log', this.accessLog, 'posix'];
      if (sidecar) args.push('--sidecar', this.metaDir);
      args.push(this.dataDir);
      const child = spawn(binary, args, {
        env: { PATH: process.env.PATH ?? '', HOME: this.dir, ROOT_ACCESS_KEY_ID: this.accessKeyId, ROOT_SECRET_ACCESS_KEY: this.secretAccessKey },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      let gone = false;
      const exited = new Promise<void>((r) => child.once('exit', () => ((gone = true), r())));
      const deadline = Date.now() + 15_000;
      let ready = false;
      while (!gone && Date.now() < deadline && !(ready = (await httpStatus(`http://127.0.0.1:${port}/health`)) === 200)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      if (ready && !gone) {
        this.child = child;
        this.exited = exited;
        this.portValue = port;
        this.sidecar = sidecar;
        return;
      }
      child.kill('SIGKILL');
      await exited;
      // The old port may linger in TIME_WAIT for a moment after a stop.
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new FacefleetError('E_DEPENDENCY', `versitygw did not start (${binary})`);
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s); the data folder stays. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGTERM');
    const late = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(late);
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
