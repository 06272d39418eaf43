import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backlogScenario } from './backlog';
import { ChaosEnv, RESULTS_BUCKET } from './chaos-env';
import type { ChaosOptions, ChaosScenario } from './chaos-options';
import type { ChaosRow } from './chaos-report';
import { hostileAccessScenario } from './hostile-access';
import { hostileScenario } from './hostile-scenario';
import { photoVariants } from './photo-set';
import { redisRestart, redisStop } from './redis-faults';
import { slowInference } from './slow-inference';
import { storageOutage } from './storage-outage';
import { sleep } from '../harness/poll';
import { ScenarioContext, type Scenario } from './scenario-kit';
import { scanForSecrets, SecretScan } from './secret-scan';
import { workerSigkill } from './worker-sigkill';

/** Every scenario by name. */
const SCENARIOS: Record<ChaosScenario, Scenario> = {
  'worker-sigkill': workerSigkill,
  'redis-restart': redisRestart,
  'redis-stop': redisStop,
  'storage-outage': storageOutage,
  'slow-inference': slowInference,
  'hostile-inputs': hostileScenario,
  'hostile-access': hostileAccessScenario,
  backlog: backlogScenario,
};

/** What a chaos run produced. */
export interface ChaosReport {
  rows: ChaosRow[];
  /** Every output of the run (worker logs, metrics, results, failed reasons, job payloads in Redis's AOF) searched for the test credentials. */
  secrets: SecretScan;
  /** The working folder (removed unless `keep`). */
  dir: string;
  /** Wall time of the whole run, s. */
  seconds: number;
}

/**
 * Runs the chosen scenarios one after another against one private Redis (password, AOF `everysec`)
 * and one S3-compatible server, both on loopback ports, with `facefleet worker` processes; then greps
 * every output for the credentials the run used. Only loopback servers this run started are touched.
 */
export async function runChaos(options: Readonly<ChaosOptions>, say: (line: string) => void = () => undefined): Promise<ChaosReport> {
  const started = Date.now();
  const dir = options.dir ? path.resolve(options.dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-chaos-'));
  const env = await ChaosEnv.open(dir);
  const rows: ChaosRow[] = [];
  let secrets: SecretScan;
  // Credentials an operator might mistype or rotate to: they must not be printed either.
  const wrong = { redis: randomBytes(18).toString('hex'), s3: randomBytes(20).toString('hex') };
  try {
    const variants = await photoVariants();
    const ctx: ScenarioContext = { env, sizes: options.sizes, variants, say, wrong };
    for (const name of options.scenarios) {
      const t0 = Date.now();
      say(`${name}: starting`);
      const row = await SCENARIOS[name](ctx);
      row.details.seconds = Math.round((Date.now() - t0) / 100) / 10;
      say(`${name}: done in ${row.details.seconds} s — lost ${row.lost}, corrupt ${row.corrupt}, crashes ${row.crashes}`);
      rows.push(row);
    }
    if (options.scenarios.length > 0) await misconfiguredWorker(ctx, wrong);
  } finally {
    await env.close();
    secrets = scanForSecrets(
      [env.logDir, env.outDir, path.join(env.s3.dataDir, RESULTS_BUCKET), env.s3.metaDir, env.redis.dir],
      { 'S3 secret key': env.s3.secretAccessKey, 'Redis password': env.redisPassword, 'wrong Redis password': wrong.redis, 'wrong S3 secret key': wrong.s3 },
    );
    const report = { rows, secrets, dir, seconds: Math.round((Date.now() - started) / 100) / 10 };
    if (options.keep) fs.writeFileSync(path.join(dir, 'report.json'), `${JSON.stringify({ scale: options.scale, ...report }, null, 2)}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  return { rows, secrets, dir, seconds: Math.round((Date.now() - started) / 100) / 10 };
}

/**
 * A worker started with a wrong Redis password and a wrong S3 secret (a botched rotation): it must
 * stay up and not ready, and its log and metrics join the credential scan with both wrong values.
 */
async function misconfiguredWorker(ctx: ScenarioContext, wrong: { redis: string; s3: string }): Promise<void> {
  const { env } = ctx;
  const q = env.openQueue('misconfigured');
  const worker = await env.spawnWorker('misconfigured', q.name, [], {
    metrics: true,
    env: { REDIS_URL: `redis://:${wrong.redis}@127.0.0.1:${env.redis.port}`, AWS_SECRET_ACCESS_KEY: wrong.s3 },
  });
  await worker.waitForStart(120_000);
  await sleep(3000);
  for (const p of ['/metrics', '/readyz', '/healthz']) {
    const answer = await worker.probe(p, 5000);
    if (answer) fs.writeFileSync(path.join(env.outDir, `misconfigured${p.replace('/', '.')}`), answer.body);
  }
  await worker.kill();
  ctx.say('misconfigured worker (wrong Redis password and S3 secret): output kept for the credential scan');
}
