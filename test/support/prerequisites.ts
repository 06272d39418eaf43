/** Something a test needs from the machine, and how to get it. */
export interface Prerequisite {
  /** What is missing, as a person would name it (`promtool`, `python3 with torch`). */
  name: string;
  /** Whether it is there. */
  available: boolean;
  /**
   * How to install it.
   * @defaultValue `npm test` runs scripts/setup.sh, which installs it
   */
  install?: string;
}

const ci = () => /^(1|true)$/i.test(process.env.CI ?? '');

function missingMessage(p: Prerequisite): string {
  return `prerequisite missing: ${p.name} (install: ${p.install ?? 'bash scripts/setup.sh, which npm test runs first'})`;
}

/**
 * `describe` when every prerequisite is there. Otherwise: with `CI=true` one failing test that names
 * what is missing (a green CI run must not hide a missing install step); elsewhere a skipped block and
 * a warning that names it and how to install it.
 */
export function describeWith(prereqs: Prerequisite | readonly Prerequisite[], title: string, body: () => void): void {
  const missing = ([] as Prerequisite[]).concat(prereqs).filter((p) => !p.available);
  if (missing.length === 0) {
    describe(title, body);
    return;
  }
  const message = missing.map(missingMessage).join('; ');
  if (ci()) {
    describe(title, () => {
      it('has its prerequisites', () => {
        throw new Error(message);
      });
    });
    return;
  }
  console.warn(`skipped "${title}": ${message}`);
  describe.skip(title, body);
}

/** `it` with the same rule as {@link describeWith}. */
export function itWith(prereqs: Prerequisite | readonly Prerequisite[], title: string, fn: () => unknown, timeout?: number): void {
  const missing = ([] as Prerequisite[]).concat(prereqs).filter((p) => !p.available);
  if (missing.length === 0) {
    it(title, fn as jest.ProvidesCallback, timeout);
    return;
  }
  const message = missing.map(missingMessage).join('; ');
  if (ci()) {
    it(title, () => {
      throw new Error(message);
    });
    return;
  }
  console.warn(`skipped "${title}": ${message}`);
  it.skip(title, fn as jest.ProvidesCallback, timeout);
}
