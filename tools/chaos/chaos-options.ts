import { CHAOS_OPTIONS } from '../../src/config/chaos-config';
import { FacefleetError } from '../../src/errors';

/** The scenarios of the suite, in the order they run. */
export const CHAOS_SCENARIOS = ['worker-sigkill', 'redis-restart', 'redis-stop', 'storage-outage', 'slow-inference', 'hostile-inputs', 'hostile-access', 'backlog'] as const;

/** One scenario name. */
export type ChaosScenario = (typeof CHAOS_SCENARIOS)[number];

/** How big each scenario is. */
export interface ChaosSizes {
  /** Worker SIGKILL: images, worker processes kept running, kills during the run. */
  sigkill: { images: number; workers: number; kills: number };
  /** Redis restart and stop: images per run, and how long Redis stays down in the stop scenario (s). */
  redis: { images: number; stopSeconds: number };
  /** Storage outage: images, and how long the S3 server stays down (s). */
  storage: { images: number; outageSeconds: number };
  /** Slow inference: images (MogFace batches slower than the lock), canvas side, batch size. */
  slow: { images: number; canvas: number; batch: number };
  /** Hostile inputs, and good photos mixed in among them. */
  hostile: { inputs: number; photos: number };
  /** Hostile access: ordinary photos among the hostile jobs, FIFOs as sources, slow uploads against serve. */
  access: { photos: number; fifos: number; slowClients: number };
  /** Backlog: waiting jobs enqueued with no worker running. */
  backlog: { jobs: number };
}

/** Each scenario's size at `small` and at `full`. */
const SIZES: { readonly [K in keyof ChaosSizes]: readonly [small: ChaosSizes[K], full: ChaosSizes[K]] } = {
  sigkill: [{ images: 400, workers: 2, kills: 3 }, { images: 4000, workers: 2, kills: 20 }],
  redis: [{ images: 120, stopSeconds: 5 }, { images: 2000, stopSeconds: 30 }],
  storage: [{ images: 120, outageSeconds: 5 }, { images: 2000, outageSeconds: 30 }],
  slow: [{ images: 16, canvas: 1920, batch: 8 }, { images: 48, canvas: 1920, batch: 8 }],
  hostile: [{ inputs: 300, photos: 40 }, { inputs: 10_000, photos: 500 }],
  access: [{ photos: 24, fifos: 8, slowClients: 40 }, { photos: 200, fifos: 32, slowClients: 140 }],
  backlog: [{ jobs: 10_000 }, { jobs: 100_000 }],
};

/** The sizes of one preset, from {@link SIZES}. */
function preset(which: 0 | 1): ChaosSizes {
  return Object.freeze(Object.fromEntries(Object.entries(SIZES).map(([k, v]) => [k, Object.freeze({ ...v[which] })]))) as unknown as ChaosSizes;
}

/** `small` runs in CI in a few minutes; `full` gives the figures of docs/reliability.md. */
export const CHAOS_SCALES: Readonly<Record<'small' | 'full', ChaosSizes>> = Object.freeze({ small: preset(0), full: preset(1) });

/** Settings of one chaos run, validated and frozen. */
export interface ChaosOptions {
  /** Size preset. @defaultValue `small` */
  scale: 'small' | 'full';
  /** The sizes of that preset. */
  sizes: ChaosSizes;
  /** Scenarios to run. @defaultValue all of {@link CHAOS_SCENARIOS} */
  scenarios: readonly ChaosScenario[];
  /** Print the rows as a JSON array on stdout instead of the table. @defaultValue false */
  json: boolean;
  /** Keep the working folder (logs, data) instead of removing it. @defaultValue false */
  keep: boolean;
  /** Working folder. @defaultValue a new folder under the OS temp folder */
  dir?: string;
}

/**
 * Builds chaos settings from CLI flags (declared in `src/config/chaos-config.ts`, defaults from there):
 * `--scale small|full`, `--only a,b`, `--json`, `--keep`,
 * `--dir DIR`. A bad value fails with `E_CONFIG` naming the flag, what was expected and what was given.
 */
export function loadChaosOptions(flags: Record<string, unknown>): Readonly<ChaosOptions> {
  const scale = flags.scale ?? CHAOS_OPTIONS.scale.default;
  if (scale !== 'small' && scale !== 'full') throw bad('--scale', 'small or full', scale);
  let scenarios: ChaosScenario[] = [...CHAOS_SCENARIOS];
  if (flags.only !== undefined) {
    const names = String(flags.only).split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !(CHAOS_SCENARIOS as readonly string[]).includes(n));
    if (names.length === 0 || unknown.length > 0) throw bad('--only', `a comma-separated list of ${CHAOS_SCENARIOS.join(', ')}`, flags.only);
    scenarios = CHAOS_SCENARIOS.filter((s) => names.includes(s));
  }
  if (flags.dir !== undefined && (typeof flags.dir !== 'string' || flags.dir === '')) throw bad('--dir', 'a folder path', flags.dir);
  return Object.freeze({
    scale,
    sizes: CHAOS_SCALES[scale],
    scenarios,
    json: (flags.json ?? CHAOS_OPTIONS.json.default) === true,
    keep: (flags.keep ?? CHAOS_OPTIONS.keep.default) === true,
    ...(typeof flags.dir === 'string' ? { dir: flags.dir } : {}),
  });
}

function bad(flag: string, expected: string, given: unknown): FacefleetError {
  return new FacefleetError('E_CONFIG', `invalid configuration:\n  ${flag}: expected ${expected}; given ${JSON.stringify(given)}`);
}
