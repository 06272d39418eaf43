/**
 * One row of the chaos table: what a scenario did to the fleet and what came out. `--json` prints an
 * array of these; `details` holds the scenario's own figures on top of the table's columns.
 */
export interface ChaosRow {
  /** Scenario name, e.g. `worker-sigkill`. */
  scenario: string;
  /** Images (jobs) the scenario enqueued. */
  images: number;
  /** Images that ended with neither a valid result nor a classified failure, or were marked done without a result. */
  lost: number;
  /** Result objects that do not parse as a complete v1 result of their own key and source. */
  corrupt: number;
  /** Job executions started again because the previous holder lost the job (killed, lock expired): BullMQ's stalled counters. */
  duplicatesExecuted: number;
  /** Successful result writes beyond the first per key (from the S3 server's access log). */
  duplicatesWritten: number;
  /** Worker processes that died without being killed by the scenario. */
  crashes: number;
  /** Seconds from the end of the fault until the fleet completed jobs again; `null` when the scenario has no fault to recover from. */
  recoverySeconds: number | null;
  /** Scenario-specific figures (outcomes by code, RSS, memory per job …). */
  details: Record<string, unknown>;
}

const COLUMNS: Array<{ title: string; value: (r: ChaosRow) => string }> = [
  { title: 'scenario', value: (r) => r.scenario },
  { title: 'images', value: (r) => String(r.images) },
  { title: 'lost', value: (r) => String(r.lost) },
  { title: 'corrupt', value: (r) => String(r.corrupt) },
  { title: 'dup. executed', value: (r) => String(r.duplicatesExecuted) },
  { title: 'dup. written', value: (r) => String(r.duplicatesWritten) },
  { title: 'crashes', value: (r) => String(r.crashes) },
  { title: 'recovery s', value: (r) => (r.recoverySeconds === null ? '-' : r.recoverySeconds.toFixed(1)) },
];

/** The table as text: a header, a rule, one line per scenario, then one line of notes per scenario. */
export function formatChaosTable(rows: readonly ChaosRow[]): string {
  const cells = [COLUMNS.map((c) => c.title), ...rows.map((r) => COLUMNS.map((c) => c.value(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  const render = (line: string[]) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const lines = [render(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(render)];
  const notes = rows.filter((r) => typeof r.details.note === 'string').map((r) => `  ${r.scenario}: ${r.details.note as string}`);
  return `${lines.join('\n')}\n${notes.length ? `\n${notes.join('\n')}\n` : ''}`;
}

/** The rows as `--json` prints them: the table's fields plus `details`. */
export function chaosJson(rows: readonly ChaosRow[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}
