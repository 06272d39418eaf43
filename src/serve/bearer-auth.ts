import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-error';

/**
 * Checks `Authorization: Bearer <token>` against the configured token in constant time (both sides
 * hashed first, so neither the length nor a prefix leaks). The token is kept only as its digest.
 */
export class BearerAuth {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  /** Throws `E_UNAUTHORIZED` unless the header carries the token. */
  check(header: string | undefined): void {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    if (!match) throw new ApiError('E_UNAUTHORIZED', header ? 'the Authorization header is not "Bearer <token>"' : 'this server requires a bearer token (Authorization: Bearer <token>)');
    if (!timingSafeEqual(sha256(match[1]), this.digest)) throw new ApiError('E_UNAUTHORIZED', 'the bearer token is not valid');
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
