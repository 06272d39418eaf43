import { CLUSTER_SLOTS } from './key-slot';

/** One line of `CLUSTER NODES`: a node as the node asked sees it. */
export interface ClusterNodeLine {
  /** The node's 40-character id. */
  id: string;
  /** Address the cluster knows it by (what other nodes, and `MIGRATE`, connect to). */
  host: string;
  port: number;
  /** `host:port`. */
  address: string;
  flags: string[];
  /** The line of the node that was asked. */
  myself: boolean;
  master: boolean;
  /** Flagged `fail`, `fail?`, `noaddr` or `handshake`: not a node to move slots to or from. */
  failing: boolean;
  configEpoch: number;
  /** Slot ranges it serves, `[first, last]`. */
  ranges: Array<[number, number]>;
  /** Slots it is migrating away, to the node id given (shown only in a node's own line). */
  migrating: Map<number, string>;
  /** Slots it is importing, from the node id given (shown only in a node's own line). */
  importing: Map<number, string>;
}

const FAILING_FLAGS = new Set(['fail', 'fail?', 'noaddr', 'handshake']);

/**
 * Parses the text of `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent>
 * <pong-recv> <config-epoch> <link-state> <slot> …`, slots as `n`, `a-b`, `[n->-id]` (migrating) or
 * `[n-<-id]` (importing).
 */
export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const nodes: ClusterNodeLine[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id, addressField, flagField, , , , epoch] = fields;
    const hostPort = addressField.split('@')[0].split(',')[0];
    const colon = hostPort.lastIndexOf(':');
    const host = hostPort.slice(0, colon);
    const port = Number(hostPort.slice(colon + 1));
    const flags = flagField.split(',');
    const node: ClusterNodeLine = {
      id,
      host,
      port,
      address: `${host}:${port}`,
      flags,
      myself: flags.includes('myself'),
      master: flags.includes('master'),
      failing: flags.some((f) => FAILING_FLAGS.has(f)) || host === '',
      configEpoch: Number(epoch),
      ranges: [],
      migrating: new Map(),
      importing: new Map(),
    };
    for (const slot of fields.slice(8)) {
      const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(slot);
      if (open) {
        (open[2] === '>' ? node.migrating : node.importing).set(Number(open[1]), open[3]);
        continue;
      }
      const range = /^(\d+)(?:-(\d+))?$/.exec(slot);
      if (range) node.ranges.push([Number(range[1]), Number(range[2] ?? range[1])]);
    }
    nodes.push(node);
  }
  return nodes;
}

/** A master a slot can be moved to or from. */
export interface MasterNode {
  id: string;
  host: string;
  port: number;
  address: string;
}

/** A slot move that was started and not finished: the slot is migrating, importing, or both. */
export interface OpenMove {
  slot: number;
  /** The node the slot's keys leave. */
  from: string;
  /** The node the slot's keys go to. */
  to: string;
}

/** The slots and masters of a cluster, as its masters describe themselves. */
export interface ClusterTopology {
  /** The masters that serve slots and are not failing, in address order. */
  masters: MasterNode[];
  /** Addresses of masters flagged as failing by any master asked. */
  failing: string[];
  /** Moves started and not finished, by slot. */
  open: Map<number, OpenMove>;
  /** The id of the master serving a slot (`undefined` when none does). */
  ownerOf(slot: number): string | undefined;
}

/**
 * The topology from the `CLUSTER NODES` answer of every master, each about itself. A slot belongs to
 * the master that claims it in its own line (the highest config epoch winning while a change spreads),
 * else to the node the first answer names; the masters are those serving slots. Migrating and
 * importing states appear only in a node's own line, so each master is asked for its own.
 */
export function topologyOf(answers: readonly string[]): ClusterTopology {
  const views = answers.map(parseClusterNodes);
  const owner = new Array<string | undefined>(CLUSTER_SLOTS);
  const claim = (node: ClusterNodeLine) => {
    for (const [lo, hi] of node.ranges) for (let s = lo; s <= hi; s++) owner[s] = node.id;
  };
  for (const node of views[0] ?? []) if (node.master) claim(node);
  const selves = views.flatMap((v) => v.filter((n) => n.myself && n.master)).sort((a, b) => a.configEpoch - b.configEpoch);
  for (const self of selves) claim(self);

  const known = new Map<string, ClusterNodeLine>();
  for (const view of views) for (const node of view) if (!known.has(node.id) || node.myself) known.set(node.id, node);
  const failing = new Set<string>();
  for (const view of views) for (const node of view) if (node.master && node.failing) failing.add(node.id);
  const serving = new Set(owner.filter((id): id is string => id !== undefined));
  const masters = [...serving]
    .map((id) => known.get(id))
    .filter((n): n is ClusterNodeLine => n !== undefined && !failing.has(n.id))
    .map(({ id, host, port, address }) => ({ id, host, port, address }))
    .sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));

  const open = new Map<number, OpenMove>();
  for (const self of selves) {
    for (const [slot, to] of self.migrating) if (!open.has(slot)) open.set(slot, { slot, from: self.id, to });
    // The importing side names where the keys should go: it wins over a migrating side pointing elsewhere.
    for (const [slot, from] of self.importing) open.set(slot, { slot, from, to: self.id });
  }
  return {
    masters,
    failing: [...failing].map((id) => known.get(id)?.address ?? id),
    open,
    ownerOf: (slot) => owner[slot],
  };
}
