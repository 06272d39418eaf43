import { buildProgram } from '../../src/cli/main';
import { CHAOS_OPTIONS } from '../../src/config/chaos-config';
import { CHAOS_SCALES, CHAOS_SCENARIOS, loadChaosOptions } from '../../tools/chaos/chaos-options';
import { codeOf } from '../support/error-code';

describe('chaos options', () => {
  it('takes its defaults from the option table: small, every scenario, a table, the folder removed', () => {
    const o = loadChaosOptions({});
    expect(o.scale).toBe(CHAOS_OPTIONS.scale.default);
    expect(o.sizes).toBe(CHAOS_SCALES.small);
    expect(o.scenarios).toEqual([...CHAOS_SCENARIOS]);
    expect({ json: o.json, keep: o.keep, dir: o.dir }).toEqual({ json: false, keep: false, dir: undefined });
  });

  it('keeps the scenarios of --only in their running order, and refuses unknown ones naming the flag', () => {
    expect(loadChaosOptions({ only: 'backlog, worker-sigkill' }).scenarios).toEqual(['worker-sigkill', 'backlog']);
    expect(codeOf(() => loadChaosOptions({ only: 'backlog,nope' }))).toBe('E_CONFIG');
    expect(() => loadChaosOptions({ only: 'nope' })).toThrow(/--only/);
    expect(() => loadChaosOptions({ scale: 'huge' })).toThrow(/--scale: expected small or full; given "huge"/);
  });

  it('sizes every scenario at both scales, full at least as large as small', () => {
    const { small, full } = CHAOS_SCALES;
    expect(Object.keys(full)).toEqual(Object.keys(small));
    expect(full.sigkill).toEqual({ images: 4000, workers: 2, kills: 20 });
    for (const [scenario, sizes] of Object.entries(small) as Array<[keyof typeof small, Record<string, number>]>) {
      for (const [field, n] of Object.entries(sizes)) expect({ scenario, field, ok: (full[scenario] as Record<string, number>)[field] >= n }).toEqual({ scenario, field, ok: true });
    }
    expect(Object.isFrozen(small.backlog)).toBe(true);
  });

  it('declares the chaos flags on the CLI from the table', () => {
    const chaos = buildProgram({ chaos: async () => ({ run: async () => 0 }) }).commands.find((c) => c.name() === 'chaos')!;
    expect(chaos.options.map((o) => o.long)).toEqual(Object.values(CHAOS_OPTIONS).map((o) => o.flag.split(' ')[0]));
  });
});
