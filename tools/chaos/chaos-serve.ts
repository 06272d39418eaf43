import { freePort } from '../../src/lifecycle/free-port';
import type { ExitStatus, FacefleetProcess } from '../harness/facefleet-process';
import { sleep } from '../harness/poll';
import { detectHead, slowClient, type SlowClient } from '../harness/slow-client';
import type { ChaosEnv } from './chaos-env';

/** A `facefleet serve` child of the chaos suite on a free loopback port, with the suite's environment. */
export class ChaosServe {
  private constructor(
    readonly process: FacefleetProcess,
    readonly port: number,
  ) {}

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts `facefleet serve --port <free> …args` and waits until it listens. */
  static async start(env: ChaosEnv, id: string, args: string[]): Promise<ChaosServe> {
    const port = await freePort();
    const child = env.spawnProcess({ id, command: 'serve', args: ['--host', '127.0.0.1', '--port', String(port), ...args], metricsPort: port });
    await child.waitForLog('serve listening', 120_000);
    return new ChaosServe(child, port);
  }

  /** SIGTERM, then SIGKILL after 30 s. */
  stop(): Promise<ExitStatus> {
    return this.process.stop(30_000);
  }
}

/** What a flood of slow uploads did to `serve`. */
export interface SlowUploadFigures {
  /** Uploads opened, each sending one byte a second. */
  clients: number;
  /** HTTP status of a real detection sent while the slow uploads held the slots. */
  realDuring: number;
  /** HTTP status of a real detection sent after the request timeout had cut them. */
  realAfter: number;
  /** Faces the real detection after the cut found. */
  facesAfter: number;
  /** Slowest close of a slow upload, ms from its start (the request timeout plus the server's timer granularity). */
  cutMs: number;
  /** Uploads answered 408 (the ones that held a slot), and those closed without an answer or refused 429 / 503. */
  answered408: number;
  /** Slow uploads still open 8 s after the request timeout. */
  stillOpen: number;
}

/**
 * Opens `clients` uploads sending 1 byte/s, sends a real detection while they hold the admission
 * slots, waits for the request timeout to cut them, and sends another.
 */
export async function slowUploads(serve: ChaosServe, clients: number, photo: Buffer, requestTimeoutMs: number): Promise<SlowUploadFigures> {
  const slow: SlowClient[] = [];
  try {
    for (let i = 0; i < clients; i++) slow.push(slowClient(serve.port, detectHead(100_000), 'x'.repeat(100_000), 1_000));
    await sleep(500);
    const during = await detect(serve, photo);
    // Each upload's close time, or -1 for one still open 8 s after the request timeout.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(-1), requestTimeoutMs + 8_000)));
    const closes = await Promise.all(slow.map((c) => Promise.race([c.closed, late])));
    clearTimeout(timer);
    const after = await detect(serve, photo);
    return {
      clients,
      realDuring: during.status,
      realAfter: after.status,
      facesAfter: after.faces,
      cutMs: Math.max(...closes),
      answered408: slow.filter((c) => c.answer().startsWith('HTTP/1.1 408')).length,
      stillOpen: closes.filter((ms) => ms < 0).length,
    };
  } finally {
    for (const c of slow) c.socket.destroy();
  }
}

async function detect(serve: ChaosServe, photo: Buffer): Promise<{ status: number; faces: number }> {
  try {
    const res = await fetch(`${serve.url}/v1/detect`, { method: 'POST', body: new Uint8Array(photo), headers: { 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(15_000) });
    const body = (await res.json().catch(() => ({}))) as { faces?: unknown[] };
    return { status: res.status, faces: body.faces?.length ?? 0 };
  } catch {
    return { status: 0, faces: 0 };
  }
}
