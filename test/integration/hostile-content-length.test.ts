import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { s3ClientConfigFromEnv } from '../../src/storage/s3-client-config';
import { S3Store } from '../../src/storage/s3-store';

/**
 * A storage server that lies about sizes: a GetObject answer claiming a multi-gigabyte
 * Content-Length, and a chunked answer that never ends. The store must refuse both with
 * `E_TOO_LARGE` without buffering more than its limit.
 */
describe('hostile storage answers', () => {
  let server: Server;
  let store: S3Store;
  const served = { bytes: 0 };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const key = decodeURIComponent((req.url ?? '').split('?')[0]);
      if (key.endsWith('/claims-5gb.jpg')) {
        res.writeHead(200, { 'content-length': String(5 * 1024 ** 3), etag: '"x"', 'content-type': 'image/jpeg' });
        // A trickle that would take forever to reach the claimed size.
        const timer = setInterval(() => {
          served.bytes += 1024;
          res.write(Buffer.alloc(1024));
        }, 5);
        res.on('close', () => clearInterval(timer));
        return;
      }
      if (key.endsWith('/endless.jpg')) {
        res.writeHead(200, { etag: '"y"', 'content-type': 'image/jpeg', 'transfer-encoding': 'chunked' });
        const chunk = Buffer.alloc(256 * 1024, 0xff);
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) served.bytes += chunk.length;
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    store = new S3Store('hostile', { ...s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: endpoint }, { maxAttempts: 1 }), credentials: { accessKeyId: 'AKIDHOSTILE', secretAccessKey: 'hostile-secret-not-used' } });
  });
  afterAll(async () => {
    await store?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('refuses a claimed 5 GiB object from its Content-Length, before reading the body', async () => {
    served.bytes = 0;
    const started = Date.now();
    await expect(store.get('photos/claims-5gb.jpg', { maxBytes: 50 * 1024 * 1024 })).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(served.bytes).toBeLessThan(1024 * 1024);
  });

  it('stops reading an endless body at the limit', async () => {
    served.bytes = 0;
    const before = process.memoryUsage().arrayBuffers;
    await expect(store.get('photos/endless.jpg', { maxBytes: 8 * 1024 * 1024 })).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    // The server kept writing until the socket closed; the store held at most its limit plus a chunk.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});
