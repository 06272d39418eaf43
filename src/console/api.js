// API access for the console: the bearer token (kept in this tab), errors as HttpError.
/* global fetch, Headers, sessionStorage */
import { $ } from './dom.js';

const TOKEN_KEY = 'facefleet.token';

/** True when this tab holds a token. */
export function hasToken() {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

/** An error answer of the API: its status and stable code. */
export class HttpError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || `HTTP_${status}`;
  }
}

/** fetch with the bearer token; on 401 asks for a token once and retries. */
export async function api(path, init = {}, retried = false) {
  const headers = new Headers(init.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401 && !retried) {
    await res.text().catch(() => '');
    $('#token-button').hidden = false;
    if (await askToken()) return api(path, init, true);
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new HttpError(res.status, body);
  }
  return res;
}

/** `api` and the JSON of its answer. */
export async function apiJson(path, init) {
  return (await api(path, init)).json();
}

/** Asks for the token in a dialog; resolves true when one was given. */
export function askToken() {
  const dialog = $('#token-dialog');
  $('#token-input').value = '';
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        const value = $('#token-input').value.trim();
        if (dialog.returnValue === 'ok' && value) {
          sessionStorage.setItem(TOKEN_KEY, value);
          resolve(true);
        } else resolve(false);
      },
      { once: true },
    );
    dialog.showModal();
  });
}

/** A key as a URL path: every segment encoded, the slashes kept. */
export function keyPath(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}
