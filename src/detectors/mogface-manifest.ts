import { z } from 'zod';
import { FacefleetError } from '../errors';

/** A dimension of a tensor shape: a fixed size or a symbolic (dynamic) name. */
const dim = z.union([z.number().int().positive(), z.string().min(1)]);
const triple = z.tuple([z.number(), z.number(), z.number()]);
const powerOfTwo = z
  .number()
  .int()
  .positive()
  .refine((v) => (v & (v - 1)) === 0, 'must be a power of two');

/**
 * The model manifest written by `models/mogface/export.py` beside the ONNX file
 * (`<file>.manifest.json`). It is the single source of the input contract, the anchor layout and
 * the decode defaults of an exported MogFace model.
 */
export const mogFaceManifestSchema = z
  .object({
    /** Manifest format version; only 1 exists. */
    schemaVersion: z.literal(1),
    /** Model family id. */
    id: z.literal('mogface'),
    /** Version string of the weights (checkpoint hash or random seed). */
    version: z.string().min(1),
    /** `full` (ResNet-101) or `tiny` (test-only, same outputs). */
    variant: z.enum(['full', 'tiny']),
    /** True when the weights are random: the model is then not a detector. */
    randomInit: z.boolean(),
    /** Free-form notes, e.g. `random-init: not a detector`. */
    notes: z.array(z.string()),
    /** ONNX file name, relative to the manifest. */
    file: z.string().min(1),
    /** Hex sha256 of the ONNX file. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    opset: z.number().int().min(7),
    license: z.string(),
    input: z.object({
      name: z.string().min(1),
      dtype: z.literal('float32'),
      layout: z.literal('NCHW'),
      colorOrder: z.enum(['RGB', 'BGR']),
      /** Symbolic shape, e.g. `['batch', 3, 'height', 'width']`. */
      shape: z.tuple([dim, z.literal(3), dim, dim]),
      dynamicAxes: z.array(z.string()),
      /** Per-channel mean in the fed channel order, for 0–255 values. */
      mean: triple,
      /** Per-channel divisor in the fed channel order, for 0–255 values. */
      std: triple.refine((s) => s.every((v) => v > 0), 'std must be positive'),
      /** Canvas side in pixels used when none is configured. */
      defaultCanvas: z.number().int().positive(),
    }),
    anchors: z
      .object({
        strides: z.array(powerOfTwo).min(1),
        /** Anchor base size per level, in input pixels. */
        bases: z.array(z.number().positive()).min(1),
        /** Side multiplier: anchor side = base · scale. */
        scale: z.number().positive(),
        perPosition: z.literal(1),
      })
      .refine((a) => a.strides.length === a.bases.length, 'strides and bases must have the same length'),
    outputs: z
      .array(z.object({ name: z.string().min(1), shape: z.array(dim).length(3), activation: z.string().optional() }))
      .length(2),
    decode: z.object({
      scoreThreshold: z.number().min(0).max(1),
      iouThreshold: z.number().min(0).max(1),
      preNmsTopK: z.number().int().positive(),
      maxDetections: z.number().int().positive(),
      pixelInclusive: z.literal(true),
    }),
  })
  .refine((m) => m.outputs.some((o) => o.name === 'conf') && m.outputs.some((o) => o.name === 'loc'), {
    message: 'outputs must include conf and loc',
    path: ['outputs'],
  });

/** A validated MogFace manifest. */
export type MogFaceManifest = z.infer<typeof mogFaceManifestSchema>;

/**
 * Validates a parsed manifest JSON. A bad manifest is a fatal model error: the thrown
 * `FacefleetError('E_MODEL')` names every offending field, what was expected and what was given.
 */
export function parseMogFaceManifest(json: unknown, source = 'mogface manifest'): MogFaceManifest {
  const result = mogFaceManifestSchema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${field}: ${issue.message}`;
  });
  throw new FacefleetError('E_MODEL', `${source} is invalid: ${problems.join('; ')}`);
}
