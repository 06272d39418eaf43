import fs from 'node:fs/promises';
import path from 'node:path';
import { imageLimits, loadDetectConfig } from '../../config/model-config';
import type { Face } from '../../detectors/detector';
import { detectImage } from '../../engine/detect-image';
import { loadModel } from '../../engine/build-engine';
import { classify } from '../../errors';
import { annotateImage } from '../../imaging/annotate';
import { readLocalFile } from '../../storage/read-regular-file';

/** One entry of `facefleet detect` output, in input order. */
export interface DetectEntry {
  file: string;
  model?: { id: string; version: string };
  image?: { width: number; height: number; format: string };
  faces?: Face[];
  timings?: { decodeMs: number; inferenceMs: number; postprocessMs: number; batchSize: number };
  annotated?: string;
  error?: { code: string; message: string };
}

/**
 * Runs a model on local files without a queue. All files go through the batcher together (bounded),
 * so they share batches. Prints a JSON array with `--json`, a table otherwise; exit 2 when any failed.
 */
export async function run(flags: Record<string, unknown>, files: readonly string[] = []): Promise<number> {
  const config = loadDetectConfig(flags);
  const limits = imageLimits(config);
  const model = await loadModel(config, { onPull: (m) => process.stderr.write(`${m}\n`) });
  for (const w of model.warnings) process.stderr.write(`warning: ${w}\n`);
  if (config.annotate) await fs.mkdir(config.annotate, { recursive: true });
  const { id, version } = model.detector;
  const entries: DetectEntry[] = new Array(files.length);
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const i = next++;
      const file = files[i];
      try {
        const body = await readLocalFile(file, limits.maxBytes);
        const det = await detectImage(model.engine, body, limits, config.scoreThreshold !== undefined ? { scoreThreshold: config.scoreThreshold } : {});
        const entry: DetectEntry = {
          file,
          model: { id, version },
          image: det.image,
          faces: det.faces,
          timings: { decodeMs: r2(det.decodeMs), inferenceMs: r2(det.inferenceMs), postprocessMs: r2(det.postprocessMs), batchSize: det.batchSize },
        };
        if (config.annotate) {
          entry.annotated = path.join(config.annotate, `${String(i).padStart(3, '0')}-${path.basename(file).replace(/\.[^.]+$/, '')}.jpg`);
          await fs.writeFile(entry.annotated, await annotateImage(body, det.faces));
        }
        entries[i] = entry;
      } catch (err) {
        const e = classify(err);
        entries[i] = { file, error: { code: e.code, message: e.message } };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, config.batch * 2) }, lane));
  } finally {
    await model.close();
  }
  if (config.json) process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
  else printTable(entries);
  return entries.some((e) => e.error) ? 2 : 0;
}

function printTable(entries: DetectEntry[]): void {
  const rows = entries.map((e) => [
    e.file,
    e.error ? `error ${e.error.code}` : `${e.faces!.length} face(s)`,
    e.error ? e.error.message : e.faces!.map((f) => `${f.score.toFixed(2)}@[${f.box.map((v) => Math.round(v)).join(',')}]`).join(' '),
  ]);
  const width = Math.max(4, ...rows.map((r) => r[0].length));
  process.stdout.write(`${'file'.padEnd(width)}  result        details\n`);
  for (const r of rows) process.stdout.write(`${r[0].padEnd(width)}  ${r[1].padEnd(12)}  ${r[2]}\n`);
}

function r2(ms: number): number {
  return Math.round(ms * 100) / 100;
}
