import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort } from './free-port';
import { onPath } from './prometheus';

/** Debian names the binary `prometheus-alertmanager`; upstream builds call it `alertmanager`. */
export function alertmanagerBinary(): string | undefined {
  return onPath('prometheus-alertmanager') ?? onPath('alertmanager');
}

/** An Alertmanager started for one test file. */
export interface AlertmanagerServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** `127.0.0.1:<port>`, for Prometheus' `alertmanagers` targets. */
  address: string;
  dir: string;
  log(): string;
  /** Stops the server and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startAlertmanager}. */
export interface AlertmanagerOptions {
  /** The `alertmanager.yml` content as an object. */
  config: Record<string, unknown>;
  /** ms to wait for `/-/ready`. @defaultValue 30000 */
  readyTimeoutMs?: number;
}

/**
 * Starts Alertmanager on a free 127.0.0.1 port with clustering off (no gossip port), in its own
 * folder, and waits until it is ready.
 */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<AlertmanagerServer> {
  const bin = alertmanagerBinary();
  if (!bin) throw new Error('alertmanager is not on PATH (Debian: apt-get install prometheus-alertmanager)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-am-'));
  const configFile = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(configFile, YAML.stringify(options.config));
  const logFile = path.join(dir, 'alertmanager.log');
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const out = fs.openSync(logFile, 'a');
    const child: ChildProcess = spawn(
      bin,
      [`--config.file=${configFile}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
      { cwd: dir, stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    let exited = false;
    child.once('exit', () => (exited = true));
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    let ready = false;
    while (!exited && Date.now() < deadline) {
      ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!ready) {
      child.kill('SIGKILL');
      if (attempt < 3 && /address already in use/.test(log())) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`alertmanager did not get ready on ${url}:\n${log().slice(-3000)}`);
    }
    let stopped: Promise<void> | undefined;
    return {
      url,
      address: `127.0.0.1:${port}`,
      dir,
      log,
      stop() {
        stopped ??= (async () => {
          if (!exited) {
            const gone = new Promise<void>((r) => child.once('exit', () => r()));
            child.kill('SIGTERM');
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
            clearTimeout(timer);
            if (!exited) child.kill('SIGKILL');
          }
          fs.rmSync(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  }
}

/** One notification Alertmanager posted to a webhook (the fields the tests read). */
export interface WebhookNotification {
  status: 'firing' | 'resolved';
  receiver: string;
  alerts: Array<{ status: 'firing' | 'resolved'; labels: Record<string, string>; annotations: Record<string, string> }>;
  commonLabels: Record<string, string>;
}

/** A webhook receiver on a free loopback port that keeps every notification it gets. */
export interface WebhookReceiver {
  /** The URL to put in Alertmanager's `webhook_configs`. */
  url: string;
  notifications: WebhookNotification[];
  close(): Promise<void>;
}

/** Starts a Node HTTP server that records the JSON bodies POSTed to it. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const notifications: WebhookNotification[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        notifications.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookNotification);
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    notifications,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Alertmanager keeps its connection alive; close() alone would wait for it to time out.
        server.closeAllConnections();
      }),
  };
}
