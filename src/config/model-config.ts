import { z } from 'zod';
import { commonEnv, modelFields } from './common';
import { parseConfig } from './parse';

const modelSchema = z.object(modelFields);

/** Model settings of commands that run a model without a queue (`detect`). */
export type ModelConfig = z.output<typeof modelSchema>;

/** Builds model settings from flags and environment; throws `E_CONFIG` naming every bad field. */
export function loadModelConfig(flags: Record<string, unknown>, env: Record<string, string | undefined> = process.env): Readonly<ModelConfig> {
  const { redisUrl: _r, queue: _q, redisPrefix: _p, ...names } = commonEnv;
  return parseConfig(modelSchema, flags, env, names);
}

/** Image limits in the units the pipeline uses. */
export function imageLimits(config: Pick<ModelConfig, 'maxImageMb' | 'maxMegapixels'>): { maxBytes: number; maxPixels: number } {
  return { maxBytes: Math.round(config.maxImageMb * 1024 * 1024), maxPixels: Math.round(config.maxMegapixels * 1e6) };
}
