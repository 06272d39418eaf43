import { parseClusterNodes, topologyOf } from '../../src/queue/cluster-topology';
import { CLUSTER_SLOTS, keySlot } from '../../src/queue/key-slot';
import { isEven, Placement, placementOf, planBalance, shardSlot } from '../../src/queue/shard-placement';
import { shardsOf } from '../../src/queue/shards';

/** `CLUSTER NODES` of a three-master cluster, as node A answers, with slot 100 migrating from A to B. */
const A = 'bc2c908ad47782130c0e611f85ae31ad507df76f';
const B = '4324df278802234f8eedecc32b008fce795b2aa3';
const C = '72fac654723ce4fda5bc1007136fb9103fd89d52';
const FROM_A = [
  `${C} 127.0.0.1:46685@56685 master - 0 1796134702500 3 connected 10923-16383`,
  `${A} 127.0.0.1:36493@46493 myself,master - 0 1796134701000 4 connected 0-5460 7122 [100->-${B}]`,
  `${B} 127.0.0.1:45419@55419 master - 0 1796134702394 2 connected 5461-7121 7123-10922`,
].join('\n');
const FROM_B = `${B} 127.0.0.1:45419@55419 myself,master - 0 1796134702000 2 connected 5461-7121 7123-10922 [100-<-${A}]\n${A} 127.0.0.1:36493@46493 master - 0 1 4 connected 0-5460 7122`;
const FROM_C = `${C} 127.0.0.1:46685@56685 myself,master - 0 0 3 connected 10923-16383`;

/** Three masters with the slot ranges `redis-cli --cluster create` gives them. */
function threeMasters(): string[] {
  return [
    `${A} 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460`,
    `${B} 10.0.0.2:6379@16379 myself,master - 0 0 2 connected 5461-10922`,
    `${C} 10.0.0.3:6379@16379 myself,master - 0 0 3 connected 10923-16383`,
  ];
}

/** A deterministic pseudo-random sequence (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A placement of `counts[i]` one-shard slots on master i, slots all distinct. */
function placementWith(counts: number[], next: () => number): Placement {
  const masters = counts.map((_, i) => ({ id: `m${i}`, host: '10.0.0.1', port: 7000 + i, address: `10.0.0.1:${7000 + i}` }));
  const used = new Set<number>();
  const shards: Placement['shards'] = [];
  counts.forEach((n, m) => {
    for (let k = 0; k < n; k++) {
      let slot: number;
      do slot = Math.floor(next() * CLUSTER_SLOTS);
      while (used.has(slot));
      used.add(slot);
      shards.push({ index: shards.length, queue: `{q-${shards.length}}`, slot, master: `m${m}` });
    }
  });
  return { shards, masters, perMaster: counts, even: isEven(counts) };
}

/** The fewest one-shard moves to an even placement: the largest masters keep the ⌈N/M⌉ shares. */
function fewestMoves(counts: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const base = Math.floor(n / counts.length);
  const extra = n % counts.length;
  return [...counts].sort((a, b) => b - a).reduce((moves, c, i) => moves + Math.max(0, c - (base + (i < extra ? 1 : 0))), 0);
}

describe('hash slots', () => {
  it('hashes keys as CLUSTER KEYSLOT of redis-server 7 answers', () => {
    // Each answer read from a real redis-server 7.0 in cluster mode.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('{user1000}.following')).toBe(3443);
    expect(keySlot('bull:{facefleet-3}:wait')).toBe(244);
    expect(keySlot('a{}b')).toBe(13694);
    expect(keySlot('ü')).toBe(9552);
  });

  it('hashes only the hash tag of a key', () => {
    expect(keySlot('bull:{facefleet-3}:ff-1')).toBe(keySlot('{facefleet-3}'));
    expect(keySlot('bull:{facefleet-3}:ff-1')).toBe(keySlot('facefleet-3'));
    expect(keySlot('bull:{facefleet-3}:ff-1')).not.toBe(keySlot('bull:{facefleet-4}:ff-1'));
  });

  it('puts every shard of a split queue in the slot of its own tag, and an unsplit queue in its prefix tag', () => {
    const split = shardsOf({ queue: 'facefleet', prefix: 'bull', shards: 4 });
    expect(split.map(shardSlot)).toEqual(['facefleet-0', 'facefleet-1', 'facefleet-2', 'facefleet-3'].map(keySlot));
    expect(shardSlot(shardsOf({ queue: 'facefleet', prefix: '{ff}', shards: 1 })[0])).toBe(keySlot('ff'));
  });
});

describe('cluster topology', () => {
  it('parses CLUSTER NODES: addresses, flags, ranges and open slots', () => {
    const [c, a] = parseClusterNodes(FROM_A);
    expect(c).toMatchObject({ id: C, host: '127.0.0.1', port: 46685, address: '127.0.0.1:46685', myself: false, master: true, failing: false, configEpoch: 3, ranges: [[10923, 16383]] });
    expect(a).toMatchObject({ id: A, myself: true, ranges: [[0, 5460], [7122, 7122]] });
    expect([...a.migrating]).toEqual([[100, B]]);
    expect([...parseClusterNodes(FROM_B)[0].importing]).toEqual([[100, A]]);
    expect(parseClusterNodes(`${C} :0@0 master,fail,noaddr - 0 0 3 disconnected`)[0]).toMatchObject({ failing: true, ranges: [] });
  });

  it('builds owners, masters and unfinished moves from the masters\' own answers', () => {
    const t = topologyOf([FROM_A, FROM_B, FROM_C]);
    expect(t.masters.map((m) => m.id)).toEqual([A, B, C]);
    expect(t.failing).toEqual([]);
    expect([100, 5460, 7121, 7122, 7123, 16383].map((s) => t.ownerOf(s))).toEqual([A, A, B, A, B, C]);
    expect([...t.open.values()]).toEqual([{ slot: 100, from: A, to: B }]);
  });

  it('lets the highest epoch win while a slot change spreads', () => {
    // B took slot 42 with epoch 7; A has not heard yet and still claims it with epoch 1.
    const a = `${A} 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460`;
    const b = `${B} 10.0.0.2:6379@16379 myself,master - 0 0 7 connected 42 5461-10922`;
    expect(topologyOf([a, b]).ownerOf(42)).toBe(B);
    expect(topologyOf([b, a]).ownerOf(42)).toBe(B);
  });

  it('leaves a failing master out of the masters and reports it', () => {
    const failing = `${A} 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460\n${C} 10.0.0.3:6379@16379 master,fail - 0 0 3 connected 10923-16383`;
    const t = topologyOf([failing]);
    expect(t.masters.map((m) => m.id)).toEqual([A]);
    expect(t.failing).toEqual(['10.0.0.3:6379']);
  });
});

describe('placing and balancing shards', () => {
  it('finds 12 shards {facefleet-0..11} uneven on three equal masters, and evens them with the fewest moves', () => {
    const placement = placementOf(shardsOf({ queue: 'facefleet', prefix: 'bull', shards: 12 }), topologyOf(threeMasters()));
    expect(placement.perMaster).toEqual([4, 3, 5]);
    expect(placement.even).toBe(false);
    const moves = planBalance(placement);
    expect(moves).toHaveLength(1);
    expect(moves[0]).toMatchObject({ from: C, to: B });
    expect(placement.shards.find((s) => s.slot === moves[0].slot)?.master).toBe(C);
  });

  it('always ends even, moving only shard slots from their owner, in the fewest moves', () => {
    const next = random(20240601);
    for (let round = 0; round < 300; round++) {
      const masters = 1 + Math.floor(next() * 6);
      const counts = Array.from({ length: masters }, () => Math.floor(next() * 12));
      const placement = placementWith(counts, next);
      const moves = planBalance(placement);
      const owner = new Map(placement.shards.map((s) => [s.slot, s.master]));
      for (const m of moves) {
        expect(owner.has(m.slot)).toBe(true);
        expect(owner.get(m.slot)).toBe(m.from);
        owner.set(m.slot, m.to);
      }
      const after = placement.masters.map((m) => [...owner.values()].filter((o) => o === m.id).length);
      expect({ counts, even: isEven(after) }).toEqual({ counts, even: true });
      expect({ counts, moves: moves.length }).toEqual({ counts, moves: fewestMoves(counts) });
    }
  });

  it('moves shards sharing a slot together, and stops as close as such a slot allows', () => {
    const masters = [
      { id: 'm0', host: 'h', port: 1, address: 'h:1' },
      { id: 'm1', host: 'h', port: 2, address: 'h:2' },
    ];
    // Shards 0 and 1 share slot 7; 3 shards on two masters cannot be split 2/1 without breaking it up.
    const shards = [
      { index: 0, queue: '{q-0}', slot: 7, master: 'm0' },
      { index: 1, queue: '{q-1}', slot: 7, master: 'm0' },
      { index: 2, queue: '{q-2}', slot: 9, master: 'm0' },
    ];
    const moves = planBalance({ shards, masters, perMaster: [3, 0], even: false });
    expect(moves).toEqual([{ slot: 9, shards: [2], from: 'm0', to: 'm1' }]);
    const pair = planBalance({ shards: shards.slice(0, 2), masters, perMaster: [2, 0], even: false });
    expect(pair).toEqual([]);
    const withFour = [...shards, { index: 3, queue: '{q-3}', slot: 11, master: 'm0' }];
    // Single-shard slots move first; the pair stays together.
    expect(planBalance({ shards: withFour, masters, perMaster: [4, 0], even: false })).toEqual([
      { slot: 9, shards: [2], from: 'm0', to: 'm1' },
      { slot: 11, shards: [3], from: 'm0', to: 'm1' },
    ]);
    const pairAndOne = [shards[0], shards[1], { index: 2, queue: '{q-2}', slot: 9, master: 'm1' }, { index: 3, queue: '{q-3}', slot: 11, master: 'm1' }, { index: 4, queue: '{q-4}', slot: 13, master: 'm1' }, { index: 5, queue: '{q-5}', slot: 15, master: 'm1' }];
    // 2 and 4: the pair cannot go (it would make 4 and 2), one single can.
    expect(planBalance({ shards: pairAndOne, masters, perMaster: [2, 4], even: false })).toEqual([{ slot: 9, shards: [2], from: 'm1', to: 'm0' }]);
  });

  it('moves the slot with the fewest keys first', () => {
    const placement = placementOf(shardsOf({ queue: 'facefleet', prefix: 'bull', shards: 12 }), topologyOf(threeMasters()));
    const onC = placement.shards.filter((s) => s.master === C).map((s) => s.slot);
    const lightest = onC[onC.length - 1];
    expect(planBalance(placement, (slot) => (slot === lightest ? 1 : 100))[0].slot).toBe(lightest);
  });

  it('refuses to plan while a shard has no master that is up', () => {
    const t = topologyOf([`${A} 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-8000`]);
    const placement = placementOf(shardsOf({ queue: 'facefleet', prefix: 'bull', shards: 12 }), t);
    expect(placement.even).toBe(false);
    expect(() => planBalance(placement)).toThrow(/slot served by no master that is up/);
  });
});
