import fs from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startConfiguredServer } from './daemon';
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
  const daemon = await startConfiguredServer({
    name: 'alertmanager',
    bin,
    dir,
    ownDir: true,
    configFile: 'alertmanager.yml',
    config: options.config,
    args: (port, configFile) => [`--config.file=${configFile}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
  });
  return {
    url: daemon.url,
    address: `127.0.0.1:${daemon.port}`,
    dir,
    log: daemon.log,
    stop: daemon.stop,
  };
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
