import { z } from 'zod';
import { MODEL_OPTIONS } from './common';
import { ConfigOf, defineOptions } from './option-spec';
import { bool, Env, parseConfig } from './parse';

/** The options of `facefleet eval`: the model options, the ground truth and the output. */
export const EVAL_OPTIONS = defineOptions({
  ...MODEL_OPTIONS,
  /** WIDER FACE ground truth (`wider_face_val_bbx_gt.txt`); needs `images`. */
  widerGt: { flag: '--wider-gt <file>', help: 'WIDER FACE ground truth (wider_face_val_bbx_gt.txt); needs --images', schema: z.string().min(1) },
  /** Folder the `widerGt` image paths are relative to (`WIDER_val/images`). */
  images: { flag: '--images <dir>', help: 'folder the --wider-gt image paths are relative to (WIDER_val/images)', schema: z.string().min(1) },
  /** JSON ground truth, paths relative to it. */
  manifest: {
    flag: '--manifest <file>',
    help: 'JSON ground truth: [{file, faces: [{box: [x1, y1, x2, y2], difficulty?}], ignore?}], paths relative to it',
    schema: z.string().min(1),
  },
  /** Folder for `detections.jsonl`, `pr-curve.png` and `summary.json`. @defaultValue `facefleet-eval` */
  out: { flag: '--out <dir>', default: 'facefleet-eval', help: 'write detections.jsonl, pr-curve.png and summary.json here', schema: z.string().min(1) },
  /** IoU at which a detection matches a face, above 0 and at most 1. @defaultValue 0.5 */
  iou: { flag: '--iou <x>', default: 0.5, help: 'IoU at which a detection matches a face', schema: z.coerce.number().gt(0, 'expected a number above 0 and at most 1').max(1, 'expected a number above 0 and at most 1') },
  /** Print one JSON object on stdout. @defaultValue false */
  json: { flag: '--json', default: false, help: 'print one JSON object on stdout', schema: bool() },
});

/** `facefleet eval` settings. */
export type EvalConfig = ConfigOf<typeof EVAL_OPTIONS>;

/** Builds `facefleet eval` settings; throws `E_CONFIG` naming every bad field. */
export function loadEvalConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<EvalConfig> {
  return parseConfig(EVAL_OPTIONS, flags, env);
}
