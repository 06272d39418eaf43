import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, isErrorCode, parseReason } from '../../src/errors';
import { JOB_NAME, jobIdFor, type JobData } from '../../src/queue/job-data';
import { jobOptions } from '../../src/queue/job-options';
import { AUDIT_POLICY, PHOTOS_BUCKET, RESULTS_BUCKET } from './chaos-env';
import type { ChaosRow } from './chaos-report';
import { ChaosServe, slowUploads, type SlowUploadFigures } from './chaos-serve';
import { sleep } from '../harness/poll';
import { crashesOf, dumpOutputs, ScenarioContext, startWorkers, stopAll, waitForOutcomes } from './scenario-kit';
import { runCli } from './run-cli';

/** A bucket whose name begins with the photos bucket's: an allow list by string prefix would let it through. */
const LOOKALIKE_BUCKET = `${PHOTOS_BUCKET}-private`;
const RUN_ID = 'chaos-access';

/** What each hostile job is and how a correct worker ends it. */
interface AccessJob {
  kind: string;
  data: JobData;
  /** Codes it may end with; `ok` for the ordinary photos. */
  expect: readonly string[];
}

/**
 * Jobs injected straight into Redis (a producer's checks bypassed), which try to read or write where
 * the operator did not allow, or to wedge the worker, among ordinary photos: results written to
 * `/etc`, to a folder beside the allowed one, to a look-alike bucket; sources outside the roots, up a
 * `..`, through a symlink out of a root, in a look-alike bucket; FIFOs as sources (they block any
 * reader that opens them); a 1 GiB file and an operator's file where incremental jobs find their
 * result. Two workers run with `--file-roots` and `--allowed-locations`. Every hostile job must fail
 * with a permanent code, nothing may appear outside the roots, the operator's files stay byte for
 * byte, the photos all get their results while the FIFOs stay unopened, and worker RSS stays bounded.
 *
 * Then `facefleet serve` is flooded with uploads sending 1 byte/s, and `failed export`, `failed list`
 * and `runs` are run with a wrong Redis password: their output joins the credential scan.
 */
export async function hostileAccessScenario(ctx: ScenarioContext): Promise<ChaosRow> {
  const { env } = ctx;
  const sizes = ctx.sizes.access;
  const base = path.join(env.dir, 'hostile-access');
  const photos = path.join(base, 'files', 'photos');
  const results = path.join(base, 'files', 'results');
  const outside = path.join(base, 'outside');
  for (const dir of [photos, results, outside, path.join(outside, 'victim')]) fs.mkdirSync(dir, { recursive: true });
  const variant = ctx.variants[0];
  fs.writeFileSync(path.join(outside, 'secret.jpg'), variant.body);
  fs.symlinkSync(outside, path.join(photos, 'escape'));
  const good = Array.from({ length: sizes.photos }, (_, i) => {
    const v = ctx.variants[i % ctx.variants.length];
    const name = `photo-${String(i).padStart(4, '0')}.${v.ext}`;
    fs.writeFileSync(path.join(photos, name), v.body);
    return name;
  });
  fs.writeFileSync(path.join(photos, 'target.jpg'), variant.body);
  for (let i = 0; i < sizes.fifos; i++) execFileSync('mkfifo', [path.join(photos, `fifo-${i}.jpg`)]);
  // Where incremental jobs find their "result": a 1 GiB sparse file and an operator's own file.
  fs.mkdirSync(path.join(results, 'big'), { recursive: true });
  const bigFile = path.join(results, 'big', 'target.jpg.json');
  fs.writeFileSync(bigFile, '');
  fs.truncateSync(bigFile, 1024 ** 3);
  fs.mkdirSync(path.join(results, 'foreign'), { recursive: true });
  const foreignFile = path.join(results, 'foreign', 'target.jpg.json');
  fs.writeFileSync(foreignFile, `${JSON.stringify({ operator: 'config', keep: true })}\n`);
  const foreignDigest = sha256(foreignFile);
  await env.s3.createBucket(LOOKALIKE_BUCKET);
  await env.upload([{ key: 'access/ok.jpg', body: variant.body }]);

  const file = (p: string) => `file://${p}`;
  const job = (kind: string, source: string, resultsUrl: string, expect: readonly string[], extra: Partial<JobData> = {}): AccessJob => ({
    kind,
    data: { v: 1, source, results: resultsUrl, runId: RUN_ID, model: 'blazeface', key: `${kind}-${path.posix.basename(source)}`, ...extra },
    expect,
  });
  const target = file(path.join(photos, 'target.jpg'));
  const hostile: AccessJob[] = [
    // FIFOs first, so they reach the workers before the photos.
    ...Array.from({ length: sizes.fifos }, (_, i) => job('fifo-source', file(path.join(photos, `fifo-${i}.jpg`)), file(path.join(results, 'fifo')), ['E_NOT_FOUND'])),
    job('results-in-etc', target, 'file:///etc', ['E_BAD_KEY']),
    job('results-outside-roots', target, file(path.join(outside, 'victim')), ['E_BAD_KEY']),
    job('results-lookalike-folder', target, file(`${results}-evil`), ['E_BAD_KEY']),
    job('results-lookalike-bucket', target, `s3://${RESULTS_BUCKET}-evil/access`, ['E_BAD_KEY']),
    job('source-outside-roots', file(path.join(outside, 'secret.jpg')), file(path.join(results, 'leak')), ['E_BAD_KEY']),
    job('source-traversal', `${file(photos)}/../../outside/secret.jpg`, file(path.join(results, 'leak')), ['E_BAD_KEY', 'E_BAD_JOB']),
    job('source-symlink-escape', file(path.join(photos, 'escape', 'secret.jpg')), file(path.join(results, 'leak')), ['E_BAD_KEY', 'E_NOT_FOUND']),
    job('source-lookalike-bucket', `s3://${LOOKALIKE_BUCKET}/access/ok.jpg`, file(path.join(results, 'leak')), ['E_BAD_KEY']),
    { ...job('big-result', target, file(path.join(results, 'big')), ['E_BAD_KEY'], { incremental: true }), data: { v: 1, source: target, results: file(path.join(results, 'big')), runId: RUN_ID, model: 'blazeface', key: 'target.jpg', incremental: true } },
    { ...job('foreign-result', target, file(path.join(results, 'foreign')), ['E_BAD_KEY']), data: { v: 1, source: target, results: file(path.join(results, 'foreign')), runId: RUN_ID, model: 'blazeface', key: 'target.jpg' } },
  ];
  const ordinary: AccessJob[] = [
    ...good.map((name) => ({ kind: 'photo', data: { v: 1 as const, source: file(path.join(photos, name)), results: file(path.join(results, 'good')), runId: RUN_ID, model: 'blazeface', key: name }, expect: ['ok'] })),
    { kind: 'photo', data: { v: 1, source: `s3://${PHOTOS_BUCKET}/access/ok.jpg`, results: `s3://${RESULTS_BUCKET}/access`, runId: RUN_ID, model: 'blazeface', key: 'ok.jpg' }, expect: ['ok'] },
  ];
  const all = [...hostile, ...ordinary];
  const before = snapshot(outside);
  const etcBefore = new Set(fs.readdirSync('/etc'));

  const q = env.openQueue('access');
  for (const j of all) await q.queue.add(JOB_NAME, j.data, { ...jobOptions({ ...AUDIT_POLICY }), jobId: jobIdFor(`${j.kind}:${j.data.source}:${j.data.results}`, 'blazeface', RUN_ID) });
  ctx.say(`hostile-access: ${hostile.length} hostile jobs (${sizes.fifos} FIFOs) and ${ordinary.length} photos queued`);

  const roots = `${photos},${results}`;
  const allowed = `s3://${PHOTOS_BUCKET},s3://${RESULTS_BUCKET}`;
  const workers = await startWorkers(env, q, 'access', 2, ['--batch', '8', '--concurrency', '16', '--file-roots', roots, '--allowed-locations', allowed], { metrics: true });
  const sampler = setInterval(() => workers.forEach((w) => w.sampleRss()), 250);
  const t0 = Date.now();
  let wedged = false;
  try {
    await waitForOutcomes(q, all.length, 120_000);
  } catch {
    // A worker blocked on a FIFO: open each for writing so the run can end, and report it.
    wedged = true;
    for (let i = 0; i < sizes.fifos; i++) releaseFifo(path.join(photos, `fifo-${i}.jpg`));
    await waitForOutcomes(q, all.length, 120_000);
  } finally {
    clearInterval(sampler);
  }
  const allSeconds = (Date.now() - t0) / 1000;
  const peakRssMb = Math.round(Math.max(...workers.map((w) => w.sampleRss())));
  await dumpOutputs(env, q, workers, 'hostile-access');
  const uncleanStops = await stopAll(workers);

  // Outcomes, job by job.
  const byKind: Record<string, Record<string, number>> = {};
  let lost = 0;
  let corrupt = 0;
  let unexpected = 0;
  let transientFailures = 0;
  for (const j of all) {
    const bull = await q.queue.getJob(jobIdFor(`${j.kind}:${j.data.source}:${j.data.results}`, 'blazeface', RUN_ID));
    const state = bull ? await bull.getState() : 'missing';
    const outcome = state === 'completed' ? 'ok' : state === 'failed' ? parseReason(bull?.failedReason).code : 'lost';
    (byKind[j.kind] ??= {})[outcome] = (byKind[j.kind][outcome] ?? 0) + 1;
    if (outcome === 'lost') lost++;
    else if (!j.expect.includes(outcome)) unexpected++;
    if (isErrorCode(outcome) && ERROR_CODES[outcome] === 'transient') transientFailures++;
    if (j.kind === 'photo' && outcome === 'ok' && j.data.source.startsWith('file://') && !isResult(path.join(results, 'good', `${j.data.key}.json`), j.data.key!)) corrupt++;
  }
  // Nothing written outside the roots; the operator's files untouched.
  const writtenOutside = [...diff(before, snapshot(outside)), ...fs.readdirSync('/etc').filter((n) => !etcBefore.has(n)).map((n) => `/etc/${n}`), ...(fs.existsSync(`${results}-evil`) ? [`${results}-evil`] : [])];
  const foreignChanged = sha256(foreignFile) !== foreignDigest;
  const bigChanged = fs.statSync(bigFile).size !== 1024 ** 3;
  corrupt += writtenOutside.length + (foreignChanged ? 1 : 0) + (bigChanged ? 1 : 0);
  ctx.say(`hostile-access: ${all.length} jobs ended in ${allSeconds.toFixed(1)} s; ${unexpected} unexpected outcomes; peak RSS ${peakRssMb} MiB`);

  const slow = await slowBodyPhase(ctx, sizes.slowClients);
  const wrongPassword = await wrongPasswordCommands(ctx, q.name);
  await q.close();

  return {
    scenario: 'hostile-access',
    images: all.length,
    lost,
    corrupt,
    duplicatesExecuted: 0,
    duplicatesWritten: 0,
    crashes: crashesOf(workers),
    recoverySeconds: null,
    details: {
      hostile: hostile.length,
      photos: ordinary.length,
      fifos: sizes.fifos,
      wedged,
      allSeconds: Math.round(allSeconds * 10) / 10,
      unexpectedOutcomes: unexpected,
      transientFailures,
      writtenOutside,
      foreignChanged,
      bigChanged,
      peakRssMb,
      uncleanStops,
      byKind,
      slowBody: slow,
      wrongPassword,
      note: `${hostile.length} hostile jobs + ${ordinary.length} photos in ${allSeconds.toFixed(1)} s: ${unexpected} unexpected outcomes, ${writtenOutside.length} files written outside the roots, FIFOs ${wedged ? 'WEDGED a worker' : 'refused'}; peak worker RSS ${peakRssMb} MiB with a 1 GiB file where a result goes; serve: ${slow.realDuring} during and ${slow.realAfter} after ${slow.clients} slow uploads`,
    },
  };
}

/** `facefleet serve` with 2 admission slots and a 3 s request timeout, flooded with 1 byte/s uploads. */
async function slowBodyPhase(ctx: ScenarioContext, clients: number): Promise<SlowUploadFigures> {
  const serve = await ChaosServe.start(ctx.env, 'access-serve', ['--max-in-flight', '2', '--max-queue', '2', '--queue-timeout-ms', '1000', '--request-timeout-ms', '3000', '--headers-timeout-ms', '1500']);
  try {
    const figures = await slowUploads(serve, clients, ctx.variants[0].body, 3_000);
    ctx.say(`hostile-access: serve with ${clients} uploads at 1 byte/s: real request ${figures.realDuring} while held, ${figures.realAfter} after the cut (${figures.cutMs} ms)`);
    return figures;
  } finally {
    await serve.stop();
  }
}

/** What the Redis commands did with a wrong password: exit code and seconds, each (output kept for the scan). */
async function wrongPasswordCommands(ctx: ScenarioContext, queue: string): Promise<Record<string, { exitCode: number | null; seconds: number; classified: boolean }>> {
  const url = ctx.env.redis.url.replace(/:\/\/([^@]*)@/, `://default:${ctx.wrong.redis}@`);
  const out: Record<string, { exitCode: number | null; seconds: number; classified: boolean }> = {};
  for (const args of [['failed', 'export'], ['failed', 'list'], ['runs']]) {
    const name = args.join('-');
    const run = await runCli(['--queue', queue], args, { REDIS_URL: url }, path.join(ctx.env.logDir, `wrong-password-${name}.log`), 30_000);
    out[name] = { exitCode: run.exitCode, seconds: Math.round(run.seconds * 10) / 10, classified: /E_CONFIG/.test(run.output) };
  }
  await sleep(0);
  return out;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Relative paths and sizes of every entry under `dir`. */
function snapshot(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(entry.parentPath, entry.name);
    out.set(path.relative(dir, p), entry.isFile() ? fs.statSync(p).size : -1);
  }
  return out;
}

function diff(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after].filter(([p, size]) => before.get(p) !== size).map(([p]) => p);
}

function isResult(file: string, key: string): boolean {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as { key?: string; faces?: unknown };
    return r.key === key && Array.isArray(r.faces);
  } catch {
    return false;
  }
}

/** Opens a FIFO for writing without blocking (a reader is waiting on it) and closes it. */
function releaseFifo(fifo: string): void {
  try {
    const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.closeSync(fd);
  } catch {
    // No reader: nothing is blocked on it.
  }
}
