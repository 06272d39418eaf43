import { runDemo } from '../../demo/run-demo';

/**
 * `facefleet demo`: the whole fleet on this machine (see `runDemo`); resolves with 0 when it found
 * results, 1 when nothing came out.
 */
export async function run(flags: Record<string, unknown>): Promise<number> {
  const summary = await runDemo(flags);
  return summary.results.length > 0 ? 0 : 1;
}
