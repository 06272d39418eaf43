import { classify } from './classify';
import { FacefleetError } from './facefleet-error';

/** Why a bind fails because of the address it was given, by Node's error code. */
const BIND_FAILURES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is already in use by another process',
  EADDRNOTAVAIL: 'the address is not one of this machine’s',
  EACCES: 'this process may not bind that port',
  ENOTFOUND: 'the host name does not resolve',
};

/**
 * Classifies an error of `listen()` on a configured address: a failure the address causes (in use, not
 * this machine's, a privileged port, an unknown host name) is `E_CONFIG` naming the option, the address
 * and why; anything else is classified as usual (see `classify`).
 *
 * @param option - the option as a config error names it, e.g. `port (--port)`.
 */
export function listenError(err: unknown, option: string, host: string, port: number): FacefleetError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code !== undefined ? BIND_FAILURES[code] : undefined;
  if (why === undefined) return classify(err);
  return new FacefleetError('E_CONFIG', `${option}: cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${why} (${code})`, { cause: err });
}
