import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-error';

/** The cookie that lets a browser open the queue board, whose pages cannot send a header. */
export const BOARD_COOKIE = 'facefleet_board';

/**
 * Checks `Authorization: Bearer <token>` against the configured token in constant time (both sides
 * hashed first, so neither the length nor a prefix leaks). The token is kept only as its digest.
 *
 * For the queue board it also issues and checks a cookie: an HMAC of the token keyed by a secret drawn
 * at random for each instance (each server start), so the cookie is not the token, cannot be computed
 * from it, and is worthless once the token changes or the server restarts.
 */
export class BearerAuth {
  private readonly digest: Buffer;
  private readonly boardValue: string;

  constructor(token: string) {
    this.digest = sha256(token);
    this.boardValue = createHmac('sha256', randomBytes(32)).update('facefleet queue board v2\n').update(token).digest('base64url');
  }

  /**
   * The `Set-Cookie` value granting the board, for a caller that presented the token; `secure` adds
   * `Secure` (the page was served over https), so the browser never sends it over plain http.
   */
  boardCookie(path: string, maxAgeS: number, secure = false): string {
    return `${BOARD_COOKIE}=${this.boardValue}; Path=${path}; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
  }

  /** True when the `Cookie` header carries the board cookie. */
  hasBoardCookie(header: string | undefined): boolean {
    const value = (header ?? '').split(';').map((c) => c.trim()).find((c) => c.startsWith(`${BOARD_COOKIE}=`))?.slice(BOARD_COOKIE.length + 1);
    return value !== undefined && timingSafeEqual(sha256(value), sha256(this.boardValue));
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
