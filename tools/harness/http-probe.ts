import { request } from 'node:http';

/**
 * The status code of a plain `GET url`, or `undefined` when nothing answers within `timeoutMs`
 * (connection refused, reset or timed out): for polling a server's health endpoint while it starts.
 */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}
