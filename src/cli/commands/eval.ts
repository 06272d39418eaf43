import fs from 'node:fs';
import path from 'node:path';
import { imageProgressBar } from '../../progress/run-progress';
import { EvalConfig, loadEvalConfig } from '../../config/eval-config';
import { imageLimits } from '../../config/model-config';
import { detectImage } from '../../engine/detect-image';
import { loadModel } from '../../engine/build-engine';
import { FacefleetError } from '../../errors';
import { AnnotationSource, loadAnnotations } from '../../eval/annotations';
import { CollectedImage, collectDetections } from '../../eval/collect-detections';
import { renderPrPlotPng } from '../../eval/pr-plot';
import { RecallGroup, scoreDetections } from '../../eval/score';

/** Score threshold detections are collected down to, so the PR curve reaches low precision. */
export const COLLECT_THRESHOLD = 0.05;

/** The one JSON object `facefleet eval --json` prints (also written to `summary.json`). */
export interface EvalSummary {
  model: { id: string; version: string };
  annotations: { format: 'wider' | 'manifest'; file: string; images: number; skipped: number };
  iouThreshold: number;
  scoreThreshold: number;
  collectThreshold: number;
  images: { total: number; scored: number; failed: number };
  faces: number;
  ap: number | null;
  recall: number | null;
  precision: number | null;
  fpPerImage: number | null;
  tp: number;
  fp: number;
  ignored: number;
  recallBySize: RecallGroup[];
  recallByDifficulty: RecallGroup[];
  imagesPerSecond: number;
  out: { detections: string; plot: string; summary: string };
  failures: Array<{ file: string; code: string; message: string }>;
}

/**
 * `facefleet eval`: detects every image of an annotated set (WIDER FACE `--wider-gt` with `--images`,
 * or a JSON `--manifest`) with detections kept down to {@link COLLECT_THRESHOLD}, scores them (AP,
 * and recall, precision and false positives per image at the operating threshold: `--score-threshold`
 * or the model's default), writes `detections.jsonl`, `pr-curve.png` and `summary.json` into `--out`,
 * and prints a table or, with `--json`, one JSON object. Images that cannot be read or decoded are
 * listed and left out of the scores. Resolves with the exit code: 0, or 2 when any image failed.
 */
export async function run(flags: Record<string, unknown>): Promise<number> {
  const config = loadEvalConfig(flags);
  const source = annotationSource(config);
  const iouThreshold = config.iou;
  const outDir = config.out;
  const limits = imageLimits(config);
  const gt = await loadAnnotations(source);
  if (gt.images.length === 0) throw new FacefleetError('E_CONFIG', `${gt.source}: no images to evaluate (${gt.skipped} entries expect an error)`);

  const files = { detections: path.join(outDir, 'detections.jsonl'), plot: path.join(outDir, 'pr-curve.png'), summary: path.join(outDir, 'summary.json') };
  // Open the output before loading the model, so an unwritable --out fails at once.
  const jsonl = await openOutput(outDir, files.detections);
  let writeError: Error | undefined;
  jsonl.on('error', (err) => {
    writeError = err;
  });

  let model;
  try {
    model = await loadModel(config, { onPull: (m) => process.stderr.write(`${m}\n`) });
  } catch (err) {
    jsonl.destroy();
    throw err;
  }
  for (const w of model.warnings) process.stderr.write(`warning: ${w}\n`);
  const { id, version } = model.detector;
  const scoreThreshold = config.scoreThreshold ?? model.detector.defaults.scoreThreshold;
  const collectThreshold = Math.min(COLLECT_THRESHOLD, scoreThreshold);
  const engine = model.engine;

  const bar = process.stderr.isTTY ? imageProgressBar() : undefined;
  let collected: CollectedImage[];
  const started = performance.now();
  bar?.start(gt.images.length, 0, { rate: '0', failed: 0 });
  try {
    collected = await collectDetections(gt.images, {
      concurrency: Math.max(2, config.batch * 2),
      maxBytes: limits.maxBytes,
      detect: (body) => detectImage(engine, body, limits, { scoreThreshold: collectThreshold }),
      onProgress: (done, failed) => bar?.update(done, { rate: (done / Math.max(0.001, (performance.now() - started) / 1000)).toFixed(1), failed }),
      onResult: async (e) => {
        if (writeError) return;
        const line = e.error
          ? { file: e.image.name, error: e.error }
          : { file: e.image.name, width: e.width, height: e.height, faces: e.faces.map((f) => ({ box: f.box, score: f.score })) };
        if (!jsonl.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((resolve) => jsonl.once('drain', resolve).once('close', resolve));
      },
    });
  } finally {
    bar?.stop();
    await model.close();
    await new Promise<void>((resolve) => jsonl.end(resolve));
  }
  const seconds = (performance.now() - started) / 1000;
  if (writeError) throw new FacefleetError('E_STORAGE', `cannot write ${files.detections}: ${(writeError as NodeJS.ErrnoException).code ?? writeError.message}`, { cause: writeError });

  const scored = collected.filter((c) => !c.error);
  const failures = collected.filter((c) => c.error).map((c) => ({ file: c.image.name, code: c.error!.code, message: c.error!.message }));
  const score = scoreDetections(
    scored.map((c) => ({ faces: c.image.faces, ignore: c.image.ignore, detections: c.faces })),
    { scoreThreshold, iouThreshold },
  );
  const png = await renderPrPlotPng(
    [{ name: `${id} ${version}`, points: score.curve, ap: score.ap, operating: { recall: score.atThreshold.recall, precision: score.atThreshold.precision, scoreThreshold } }],
    { subtitle: `${path.basename(gt.source)} · ${score.images} images · ${score.faces} faces · IoU ${iouThreshold.toFixed(2)}` },
  );
  await fs.promises.writeFile(files.plot, png);

  const at = score.atThreshold;
  const summary: EvalSummary = {
    model: { id, version },
    annotations: { format: gt.format, file: gt.source, images: gt.images.length, skipped: gt.skipped },
    iouThreshold,
    scoreThreshold,
    collectThreshold,
    images: { total: collected.length, scored: scored.length, failed: failures.length },
    faces: score.faces,
    ap: score.ap,
    recall: at.recall,
    precision: at.precision,
    fpPerImage: at.fpPerImage,
    tp: at.tp,
    fp: at.fp,
    ignored: at.ignored,
    recallBySize: score.recallBySize,
    recallByDifficulty: score.recallByDifficulty,
    imagesPerSecond: round(collected.length / Math.max(seconds, 1e-3), 2),
    out: files,
    failures,
  };
  await fs.promises.writeFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(config.json ? `${JSON.stringify(summary, null, 2)}\n` : formatTable(summary));
  return failures.length > 0 ? 2 : 0;
}

/** Creates the output folder and opens `detections.jsonl` in it; E_CONFIG when that is not possible. */
async function openOutput(outDir: string, file: string): Promise<fs.WriteStream> {
  try {
    await fs.promises.mkdir(outDir, { recursive: true });
    const handle = await fs.promises.open(file, 'w');
    return handle.createWriteStream();
  } catch (err) {
    throw new FacefleetError('E_CONFIG', `--out: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

function annotationSource(config: Readonly<EvalConfig>): AnnotationSource {
  const { widerGt, images, manifest } = config;
  if (manifest && (widerGt || images)) throw new FacefleetError('E_CONFIG', 'give either --manifest FILE or --wider-gt FILE with --images DIR, not both');
  if (manifest) return { manifest };
  if (widerGt && !images) throw new FacefleetError('E_CONFIG', '--wider-gt needs --images DIR (the folder its image paths are relative to, e.g. WIDER_val/images)');
  if (images && !widerGt) throw new FacefleetError('E_CONFIG', '--images is read only with --wider-gt FILE; give --wider-gt, or use --manifest FILE alone');
  if (!widerGt || !images) throw new FacefleetError('E_CONFIG', 'give the ground truth: --manifest FILE, or --wider-gt FILE with --images DIR');
  if (!fs.statSync(images, { throwIfNoEntry: false })?.isDirectory()) throw new FacefleetError('E_CONFIG', `--images: expected a folder, ${images} is not one`);
  return { widerGt, images };
}

function formatTable(s: EvalSummary): string {
  const rate = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3));
  const lines = [
    `model       ${s.model.id} ${s.model.version}`,
    `annotations ${s.annotations.format} ${s.annotations.file}${s.annotations.skipped ? ` (${s.annotations.skipped} entries expecting an error skipped)` : ''}`,
    `threshold   ${s.scoreThreshold} (operating), detections kept from ${s.collectThreshold}, IoU ${s.iouThreshold}`,
    `images      ${s.images.scored} scored, ${s.images.failed} failed, ${s.imagesPerSecond} images/s`,
    '',
    `AP          ${rate(s.ap)}`,
    `recall      ${rate(s.recall)}  (${s.tp} of ${s.faces} faces)`,
    `precision   ${rate(s.precision)}  (${s.tp} TP, ${s.fp} FP, ${s.ignored} in ignore regions)`,
    `FP/image    ${s.fpPerImage === null ? 'n/a' : s.fpPerImage.toFixed(3)}`,
    '',
    'recall by face width (px)',
    ...s.recallBySize.map((g) => groupLine(g, rate)),
  ];
  if (s.recallByDifficulty.length > 0) lines.push('recall by difficulty', ...s.recallByDifficulty.map((g) => groupLine(g, rate)));
  if (s.failures.length > 0) {
    lines.push('', `failed images (${s.failures.length}, not scored)`);
    const width = Math.max(...s.failures.map((f) => f.file.length));
    for (const f of s.failures) lines.push(`  ${f.file.padEnd(width)}  ${f.code}: ${f.message}`);
  }
  lines.push('', `wrote ${s.out.detections}, ${s.out.plot}, ${s.out.summary}`);
  return `${lines.join('\n')}\n`;
}

function groupLine(g: RecallGroup, rate: (v: number | null) => string): string {
  return `  ${g.label.padEnd(8)}  ${rate(g.recall).padStart(5)}  (${g.found} of ${g.faces})`;
}

function round(v: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}
