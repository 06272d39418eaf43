import { createServer } from 'node:net';

/**
 * A TCP port that was free on 127.0.0.1 a moment ago: binds port 0 on loopback, reads the port the
 * kernel picked, and releases it. Another process could take it before the caller binds it, so callers
 * that start servers should retry on "address in use".
 *
 * @returns The port number.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: the server has no TCP address'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
