import { ERROR_CODES, isErrorCode } from '../../src/errors';
import { JOB_NAME, jobIdFor } from '../../src/queue/job-data';
import { jobOptions } from '../../src/queue/job-options';
import type { SourceKey } from '../../src/producer/key-sources';
import { AUDIT_POLICY, PHOTOS_BUCKET, RESULTS_BUCKET } from './chaos-env';
import type { ChaosRow } from './chaos-report';
import { auditRun } from './audit';
import { HOSTILE_KINDS, HostileInput, hostileInputs, prng } from './hostile-inputs';
import { crashesOf, dumpOutputs, rowOf, ScenarioContext, startWorkers, stopAll, waitForOutcomes } from './scenario-kit';

const PREFIX = 'hostile-inputs/';

/**
 * Hostile inputs mixed with ordinary photos in one run, two workers: every hostile input must end as
 * a classified, permanent failure (or a valid result where the damage left a decodable image), no
 * worker may crash, their resident memory stays bounded, and every ordinary photo still gets its result.
 */
export async function hostileScenario(ctx: ScenarioContext): Promise<ChaosRow> {
  const { env } = ctx;
  const { inputs: count, photos } = ctx.sizes.hostile;
  const runId = 'chaos-hostile';
  const hostile = await hostileInputs(count, ctx.variants, PHOTOS_BUCKET, PREFIX);
  const good: HostileInput[] = Array.from({ length: photos }, (_, i) => {
    const v = ctx.variants[i % ctx.variants.length];
    const key = `${PREFIX}photo-${String(i).padStart(6, '0')}-${v.name}.${v.ext}`;
    return { kind: 'unicode-key', object: { key, body: v.body }, source: `s3://${PHOTOS_BUCKET}/${key}`, key: key.slice(PREFIX.length) };
  });
  await env.upload([...hostile, ...good].flatMap((h) => (h.object ? [h.object] : [])));
  ctx.say(`hostile-inputs: ${hostile.length} hostile inputs and ${photos} photos uploaded`);

  // One shuffled run: the photos sit among the hostile inputs, as they would in a real bucket.
  const all = shuffle([...hostile.map((h) => ({ h, photo: false })), ...good.map((h) => ({ h, photo: true }))], prng(61));
  const q = env.openQueue('hostile');
  const raw = all.filter(({ h }) => h.payload !== undefined);
  for (const { h } of raw) await q.queue.add(JOB_NAME, h.payload, { ...jobOptions({ ...AUDIT_POLICY }), jobId: jobIdFor(h.source, 'blazeface', runId) });
  const keys: SourceKey[] = all.filter(({ h }) => h.payload === undefined).map(({ h }) => ({ source: h.source, key: h.key }));
  await env.enqueue(q, keys, { runId, results: `s3://${RESULTS_BUCKET}/${PREFIX.slice(0, -1)}` });

  const workers = await startWorkers(env, q, 'hostile', 2, ['--batch', '8', '--concurrency', '16'], { metrics: true });
  const sampler = setInterval(() => workers.forEach((w) => w.sampleRss()), 250);
  try {
    await waitForOutcomes(q, all.length, 3_600_000);
  } finally {
    clearInterval(sampler);
  }
  const peakRssMb = Math.round(Math.max(...workers.map((w) => w.sampleRss())));
  await dumpOutputs(env, q, workers, 'hostile-inputs');
  const uncleanStops = await stopAll(workers);

  const audit = await auditRun({
    queue: q.queue,
    runId,
    model: 'blazeface',
    keys: all.map(({ h }) => ({ source: h.source, key: h.key })),
    results: env.resultsStore,
    resultsPrefix: PREFIX,
    accessLog: env.s3.readAccessLog(RESULTS_BUCKET),
  });
  const byKind: Record<string, Record<string, number>> = {};
  let unexpectedSuccesses = 0;
  let transientFailures = 0;
  let photosFailed = 0;
  all.forEach(({ h, photo }, i) => {
    const outcome = audit.outcomes[i] ?? 'lost';
    const kind = photo ? 'photo' : h.kind;
    byKind[kind] ??= {};
    byKind[kind][outcome] = (byKind[kind][outcome] ?? 0) + 1;
    if (photo) {
      if (outcome !== 'ok') photosFailed++;
      return;
    }
    if (outcome === 'ok' && HOSTILE_KINDS[h.kind] === 'fail') unexpectedSuccesses++;
    if (isErrorCode(outcome) && ERROR_CODES[outcome] === 'transient') transientFailures++;
  });
  return rowOf('hostile-inputs', { ...audit, images: all.length }, {
    crashes: crashesOf(workers),
    recoverySeconds: null,
    details: {
      hostile: hostile.length,
      photos,
      photosFailed,
      unexpectedSuccesses,
      transientFailures,
      peakRssMb,
      uncleanStops,
      byKind,
      note: `${hostile.length} hostile inputs + ${photos} photos: ${photosFailed} photos failed, ${unexpectedSuccesses} hostile inputs accepted, ${transientFailures} ended as transient failures; peak worker RSS ${peakRssMb} MiB`,
    },
  });
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
