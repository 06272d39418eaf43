import os from 'node:os';

/** The names every `serve` answers to: this machine's loopback names. */
export const LOOPBACK_HOST_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Bind addresses that mean "every interface". */
const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '::0', '0:0:0:0:0:0:0:0']);

/**
 * The `Host` names a server accepts, port ignored. A page on another origin that rebinds its DNS name
 * to this machine still sends its own name as `Host`, so refusing unknown names keeps such a page from
 * driving a tokenless server (DNS rebinding).
 */
export class HostAllowList {
  private readonly names: ReadonlySet<string> | undefined;

  /** `names` of `['*']`: any `Host` is accepted. */
  constructor(names: readonly string[]) {
    this.names = names.includes('*') ? undefined : new Set(names.map(normaliseName));
  }

  /**
   * The default list: the loopback names, the bind address, and when the bind address is a wildcard
   * (`0.0.0.0`, `::`) this machine's host name and interface addresses too (what a probe or a client
   * on the same network uses as `Host`), plus `extra`.
   */
  static forBind(bindHost: string, extra: readonly string[] = []): HostAllowList {
    const names = [...LOOPBACK_HOST_NAMES, bindHost, ...extra];
    if (WILDCARD_BINDS.has(normaliseName(bindHost))) {
      names.push(os.hostname());
      for (const addresses of Object.values(os.networkInterfaces())) {
        for (const a of addresses ?? []) names.push(a.address);
      }
    }
    return new HostAllowList(names);
  }

  /** True when any `Host` is accepted. */
  get open(): boolean {
    return this.names === undefined;
  }

  /** True when the `Host` header value (`name`, `name:port`, `[v6]:port`) names an allowed host. */
  allows(hostHeader: string | undefined): boolean {
    if (this.names === undefined) return true;
    if (hostHeader === undefined || hostHeader === '') return false;
    return this.names.has(normaliseName(hostName(hostHeader)));
  }
}

/** The name part of a `Host` header value, without its port. */
export function hostName(header: string): string {
  const h = header.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(':');
  // More than one colon without brackets is a bare IPv6 address, not name:port.
  return colon >= 0 && h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : h;
}

function normaliseName(name: string): string {
  return name.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
}
