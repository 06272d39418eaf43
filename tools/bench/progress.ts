/** Where progress of long measurements is shown. */
export interface ProgressSink {
  /** A new phase begins (one line). */
  phase(text: string): void;
  /** Progress inside the current phase: `done` of `total` units. */
  update(done: number, total: number, unit?: string): void;
  /** The current phase ended with this summary. */
  end(text: string): void;
}

/**
 * Progress on a stream (stderr): on a terminal, one line redrawn in place; elsewhere (CI logs), a line
 * at most every `everyMs`. Keeps stdout free for `--json`.
 */
export class StreamProgress implements ProgressSink {
  private label = '';
  private lastLine = 0;
  private open = false;

  /** @param stream - stream written to. @param everyMs - least ms between lines off a terminal. @defaultValue 5000 */
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly everyMs = 5000,
  ) {}

  phase(text: string): void {
    this.finishLine();
    this.label = text;
    this.lastLine = Date.now();
    this.stream.write(`${text}…\n`);
  }

  update(done: number, total: number, unit = 'images'): void {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 0;
    const line = `  ${this.label}: ${done}/${total} ${unit} (${pct}%)`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\x1b[K`);
      this.open = true;
    } else if (Date.now() - this.lastLine >= this.everyMs) {
      this.lastLine = Date.now();
      this.stream.write(`${line}\n`);
    }
  }

  end(text: string): void {
    this.finishLine();
    this.stream.write(`  ${text}\n`);
  }

  private finishLine(): void {
    if (this.open) this.stream.write('\r\x1b[K');
    this.open = false;
  }
}

/** Progress that goes nowhere (tests, embedding). */
export const silentProgress: ProgressSink = { phase() {}, update() {}, end() {} };
