import { createHash } from 'node:crypto';
import { hasHashTag, queueLayoutProblems } from '../../src/config/common';
import { loadProducerConfig } from '../../src/config/producer-config';
import { loadRunsConfig } from '../../src/config/queue-admin-config';
import { loadServeConfig } from '../../src/config/serve-config';
import { loadWorkerConfig, parseShardIds } from '../../src/config/worker-config';
import { runKey } from '../../src/queue/connection';
import { concurrencyPerShard, shardCountKey, shardOf, shardQueueName, shardsOf } from '../../src/queue/shards';

/** Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag, or of the whole key without one, mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

describe('shard names and keys', () => {
  it('keeps the queue name with one shard, so the keys are those of an unsplit queue', () => {
    expect(shardQueueName('facefleet', 0, 1)).toBe('facefleet');
    expect(shardsOf({ queue: 'facefleet', prefix: 'bull' })).toEqual([{ index: 0, queue: 'facefleet', prefix: 'bull' }]);
    expect(runKey(shardsOf({ queue: 'facefleet', prefix: 'bull', shards: 1 })[0], 'r1')).toBe('bull:facefleet:facefleet:run:r1');
  });

  it('gives each shard its own hash tag: a shard keeps all its keys in one slot, different shards use different slots', () => {
    const shards = shardsOf({ queue: 'facefleet', prefix: 'bull', shards: 8 });
    expect(shards.map((s) => s.queue)).toEqual(['{facefleet-0}', '{facefleet-1}', '{facefleet-2}', '{facefleet-3}', '{facefleet-4}', '{facefleet-5}', '{facefleet-6}', '{facefleet-7}']);
    for (const s of shards) {
      const slots = new Set([`${s.prefix}:${s.queue}:wait`, `${s.prefix}:${s.queue}:ff-0123`, runKey(s, 'nightly'), `${s.prefix}:${s.queue}:facefleet:runs`].map(keySlot));
      expect(slots.size).toBe(1);
    }
    expect(new Set(shards.map((s) => keySlot(`bull:${s.queue}:wait`))).size).toBe(8);
  });

  it('lists a subset of shards in the order given', () => {
    expect(shardsOf({ queue: 'q', prefix: 'bull', shards: 4 }, [3, 1]).map((s) => [s.index, s.queue])).toEqual([
      [3, '{q-3}'],
      [1, '{q-1}'],
    ]);
  });

  it('records the shard count outside every shard', () => {
    expect(shardCountKey({ queue: 'facefleet', prefix: 'bull' })).toBe('bull:facefleet:shards');
  });
});

describe('shardOf', () => {
  const sources = Array.from({ length: 20_000 }, (_, i) => `s3://photos/2026/img_${String(i).padStart(6, '0')}.jpg`);

  it('is the first 32 bits of sha256(source) mod N, as another language computes it', () => {
    for (const source of sources.slice(0, 50)) {
      const python = Number.parseInt(createHash('sha256').update(source).digest('hex').slice(0, 8), 16) % 7;
      expect(shardOf(source, 7)).toBe(python);
    }
    expect(shardOf('anything', 1)).toBe(0);
  });

  it('spreads sources evenly: every shard within 10 % of the mean', () => {
    for (const n of [2, 3, 8, 16]) {
      const counts = new Array<number>(n).fill(0);
      for (const s of sources) counts[shardOf(s, n)]++;
      const mean = sources.length / n;
      for (const c of counts) expect(Math.abs(c - mean) / mean).toBeLessThan(0.1);
    }
  });
});

describe('concurrencyPerShard', () => {
  it('splits the concurrency so the shards together hold it, at least one job each', () => {
    expect(concurrencyPerShard(24, 1)).toEqual([24]);
    expect(concurrencyPerShard(24, 5)).toEqual([5, 5, 5, 5, 4]);
    expect(concurrencyPerShard(24, 5).reduce((a, b) => a + b)).toBe(24);
    expect(concurrencyPerShard(2, 4)).toEqual([1, 1, 1, 1]);
  });
});

describe('the queue layout in the config', () => {
  it('parses --shard-ids as indexes and ranges, sorted and without repeats', () => {
    expect(parseShardIds('0-2,5,1')).toEqual([0, 1, 2, 5]);
    const config = loadWorkerConfig({ shards: '8', shardIds: '4-7' }, {});
    expect(config.consumedShards).toEqual([4, 5, 6, 7]);
    expect(loadWorkerConfig({ shards: '3' }, {}).consumedShards).toEqual([0, 1, 2]);
    expect(loadWorkerConfig({}, {}).consumedShards).toEqual([0]);
  });

  it('refuses shard ids at or above --shards, naming both and where they came from', () => {
    expect(() => loadWorkerConfig({ shardIds: '2,3' }, { FACEFLEET_SHARDS: '3' })).toThrow(/shardIds \(--shard-ids\): expected indexes below shards \(3, env FACEFLEET_SHARDS\); given 3/);
    expect(() => loadWorkerConfig({ shardIds: '3-1' }, { FACEFLEET_SHARDS: '4' })).toThrow(/shardIds \(--shard-ids\): expected ranges from low to high/);
    expect(() => loadWorkerConfig({ shardIds: 'all' }, {})).toThrow(/shardIds \(--shard-ids\): expected comma-separated shard indexes/);
    expect(() => loadWorkerConfig({ shards: '0' }, {})).toThrow(/shards \(--shards\)/);
  });

  it('refuses braces in the prefix or the queue name of a split queue: every shard would share one slot', () => {
    expect(() => loadProducerConfig({ results: 'file:///tmp/out', shards: '4', redisPrefix: '{ff}' }, {})).toThrow(/redisPrefix \(--redis-prefix\): with shards > 1 \(4, --shards\).*given "\{ff\}"/);
    expect(() => loadWorkerConfig({ shards: '2', queue: '{photos}' }, {})).toThrow(/queue \(--queue\): with shards > 1/);
    expect(() => loadRunsConfig({}, { FACEFLEET_SHARDS: '2', FACEFLEET_REDIS_PREFIX: '{ff}' })).toThrow(/redisPrefix \(env FACEFLEET_REDIS_PREFIX\)/);
    expect(() => loadServeConfig({ shards: '2', redisPrefix: 'a{b' }, {})).toThrow(/redisPrefix \(--redis-prefix\)/);
  });

  it('on a Redis Cluster, an unsplit queue needs a hash tag; a split one has its own', () => {
    expect(() => loadWorkerConfig({ redisCluster: true }, {})).toThrow(/redisPrefix \(default\): on a Redis Cluster \(--redis-cluster\).*hash tag/);
    expect(() => loadWorkerConfig({}, { FACEFLEET_REDIS_CLUSTER: 'true', FACEFLEET_REDIS_PREFIX: '{facefleet}' })).not.toThrow();
    expect(() => loadWorkerConfig({ redisCluster: true, queue: '{photos}' }, {})).not.toThrow();
    expect(() => loadWorkerConfig({ redisCluster: true, shards: '3' }, {})).not.toThrow();
  });

  it('finds a hash tag only where Redis would: the first {…} that is not empty', () => {
    expect(hasHashTag('{ff}', 'facefleet')).toBe(true);
    expect(hasHashTag('bull', '{q}')).toBe(true);
    expect(hasHashTag('bull', 'facefleet')).toBe(false);
    expect(hasHashTag('{}', '{q}')).toBe(false);
    expect(queueLayoutProblems({ queue: 'q', redisPrefix: 'bull', shards: 1, redisCluster: false }, () => 'default')).toEqual([]);
  });
});
