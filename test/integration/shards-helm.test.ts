import { loadProducerConfig } from '../../src/config/producer-config';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { containerEnv, findHelm, K8sObject, lintChart, only, renderChart, templateChart, validateObjects } from '../support/helm';
import { describeWith } from '../support/prerequisites';

const POD = { 'metadata.name': 'ff-facefleet-7d9c-x2x4q' };

function worker(objects: K8sObject[]) {
  return only(objects, 'Deployment').spec.template.spec.containers.find((c: { name: string }) => c.name === 'worker');
}

/**
 * The chart's values for a queue split into shards on a Redis Cluster: the workers and the nightly
 * producer get the same layout, KEDA sums the depth over the shards and wakes the fleet from every
 * consumed shard's wait list, and helm refuses the layouts the worker would refuse.
 */
describeWith({ name: 'helm', available: Boolean(findHelm()), install: 'scripts/install-tools.sh builds helm v3.22.0 into ~/.cache/facefleet-tools/bin' }, 'chart: sharded queues', () => {
  const sharded = {
    'redis.cluster': true,
    'redis.url': 'redis://redis-cluster.redis.svc:6379',
    'config.shards': 6,
    'config.shardIds': '0-2,5',
    'producer.cronJob.enabled': true,
    'autoscaling.keda.enabled': true,
    'autoscaling.keda.scaleToZero': true,
    'autoscaling.queueDepthThreshold': 800,
  };

  it('gives workers and the nightly producer the same shards and cluster mode, which their configs accept', () => {
    const objects = renderChart({ set: sharded });
    expect(validateObjects(objects)).toEqual([]);
    const env = containerEnv(worker(objects), { fields: POD });
    expect(env).toMatchObject({ FACEFLEET_SHARDS: '6', FACEFLEET_SHARD_IDS: '0-2,5', FACEFLEET_REDIS_CLUSTER: 'true', REDIS_URL: 'redis://redis-cluster.redis.svc:6379' });
    expect(loadWorkerConfig({}, env)).toMatchObject({ shards: 6, consumedShards: [0, 1, 2, 5], redisCluster: true });
    const cron = only(objects, 'CronJob').spec.jobTemplate.spec.template.spec.containers[0];
    const producer = containerEnv(cron);
    expect(producer).toMatchObject({ FACEFLEET_SHARDS: '6', FACEFLEET_REDIS_CLUSTER: 'true' });
    expect(producer.FACEFLEET_SHARD_IDS).toBeUndefined();
    expect(loadProducerConfig({ results: 's3://faces/' }, producer)).toMatchObject({ shards: 6, redisCluster: true });
  });

  it('scales on the depth summed over the shards, and wakes from the wait list of every consumed shard', () => {
    const so = only(renderChart({ set: sharded }), 'ScaledObject');
    const [prom, ...redis] = so.spec.triggers;
    expect(prom.metadata.query).toBe('sum(max by (shard, state) (facefleet_queue_jobs{namespace="facefleet",queue="facefleet",state=~"waiting|prioritized|active"})) or on() vector(0)');
    expect(redis.map((t: { type: string; name: string; metadata: Record<string, string> }) => [t.type, t.name, t.metadata.listName, t.metadata.addresses])).toEqual([
      ['redis-cluster', 'wait-list-0', 'bull:{facefleet-0}:wait', 'redis-cluster.redis.svc:6379'],
      ['redis-cluster', 'wait-list-1', 'bull:{facefleet-1}:wait', 'redis-cluster.redis.svc:6379'],
      ['redis-cluster', 'wait-list-2', 'bull:{facefleet-2}:wait', 'redis-cluster.redis.svc:6379'],
      ['redis-cluster', 'wait-list-5', 'bull:{facefleet-5}:wait', 'redis-cluster.redis.svc:6379'],
    ]);
    for (const t of redis) expect(t.metadata).toMatchObject({ listLength: '800', activationListLength: '0' });
  });

  it('keeps one shard as it was: no shard in the query, one wait list under the queue name', () => {
    const so = only(renderChart({ set: { 'autoscaling.keda.enabled': true, 'autoscaling.keda.scaleToZero': true } }), 'ScaledObject');
    expect(so.spec.triggers.map((t: { type: string; name: string; metadata: { listName?: string } }) => [t.type, t.name, t.metadata.listName])).toEqual([
      ['prometheus', 'queue-depth', undefined],
      ['redis', 'wait-list', 'bull:facefleet:wait'],
    ]);
    expect(so.spec.triggers[0].metadata.query).toContain('max by (state) (');
  });

  it('refuses a split queue with braces in its prefix, and an unsplit one on a cluster without a hash tag', () => {
    const braces = templateChart({ set: { 'config.shards': 4, 'config.redisPrefix': '{ff}' } });
    expect(braces.status).not.toBe(0);
    expect(braces.stderr).toMatch(/config\.shards 4: each shard's queue name is its own hash tag/);
    const untagged = templateChart({ set: { 'redis.cluster': true } });
    expect(untagged.status).not.toBe(0);
    expect(untagged.stderr).toMatch(/redis\.cluster with config\.shards 1: .*hash tag/);
    expect(templateChart({ set: { 'redis.cluster': true, 'config.redisPrefix': '{facefleet}' } }).status).toBe(0);
    // values.schema.json holds the worker's own limits.
    const zero = templateChart({ set: { 'config.shards': 0 } });
    expect(zero.status).not.toBe(0);
    expect(zero.stderr).toMatch(/shards/);
    const ids = templateChart({ set: { 'config.shardIds': 'all' } });
    expect(ids.status).not.toBe(0);
    expect(lintChart({ set: sharded }).status).toBe(0);
  });
});
