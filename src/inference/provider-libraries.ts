import fs from 'node:fs';
import path from 'node:path';

/** Execution providers that run on a device and need libraries beside onnxruntime-node's binding. */
export const DEVICE_PROVIDERS = ['cuda', 'tensorrt'] as const;

/** True for a provider that runs on a device (`cuda`, `tensorrt`), false for `cpu`. */
export function isDeviceProvider(provider: string): boolean {
  return (DEVICE_PROVIDERS as readonly string[]).includes(provider);
}

/**
 * The shared libraries a device provider loads from onnxruntime-node's binary folder, by platform.
 * onnxruntime-node's npm package carries none of them: its install script downloads them (the Linux x64
 * CUDA 12 build), which facefleet runs only in the GPU image (Dockerfile.gpu).
 */
export function providerLibraryNames(provider: string, platform: NodeJS.Platform = process.platform): string[] {
  const lib = (name: string) => (platform === 'win32' ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`);
  if (provider === 'cuda') return [lib('shared'), lib('cuda')];
  if (provider === 'tensorrt') return [lib('shared'), lib('tensorrt')];
  return [];
}

/** onnxruntime-node's folder of native libraries for this platform (`bin/napi-v6/<platform>/<arch>`). */
export function onnxruntimeBinaryDir(): string {
  const entry = require.resolve('onnxruntime-node');
  return path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** What {@link missingProviderLibraries} found missing for one provider. */
export interface MissingLibraries {
  provider: string;
  dir: string;
  files: string[];
}

/**
 * The device providers among `providers` whose libraries are not in `dir`, each with the files it
 * lacks; empty when all are there (they may still fail to start: no driver, no CUDA or cuDNN).
 */
export function missingProviderLibraries(providers: readonly string[], dir: string, exists: (file: string) => boolean = fs.existsSync, platform: NodeJS.Platform = process.platform): MissingLibraries[] {
  const out: MissingLibraries[] = [];
  for (const provider of providers.filter(isDeviceProvider)) {
    const files = providerLibraryNames(provider, platform).filter((f) => !exists(path.join(dir, f)));
    if (files.length > 0) out.push({ provider, dir, files });
  }
  return out;
}

const FALLBACK_HINT = '--allow-cpu-fallback (FACEFLEET_ALLOW_CPU_FALLBACK) runs on CPU instead';

/** Why a device provider cannot load when its libraries are missing (what is missing, and where). */
export function missingLibrariesReason(missing: readonly MissingLibraries[]): string {
  const what = missing.map((m) => `${m.provider} needs ${m.files.join(', ')}`).join('; ');
  return `the ${missing.map((m) => m.provider).join(' and ')} execution provider is not installed (${what}, not in ${missing[0]?.dir})`;
}

/** {@link missingLibrariesReason} and what to do about it: the message of a start that fails on it. */
export function missingLibrariesMessage(missing: readonly MissingLibraries[]): string {
  return (
    `${missingLibrariesReason(missing)}: onnxruntime-node's npm package carries the CPU runtime only, and facefleet leaves its CUDA ` +
    'download off outside the GPU image. Run the image built from Dockerfile.gpu (its "bench" target for the benchmark), or ' +
    'install the provider into this checkout with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js`; ' +
    FALLBACK_HINT
  );
}

/**
 * Why a device provider whose libraries are present failed to start, with onnxruntime's own words;
 * `remedy` adds the way to run on CPU instead (for a start that fails on it).
 */
export function providerStartMessage(providers: readonly string[], ortMessage: string, remedy = true): string {
  const device = providers.filter(isDeviceProvider);
  if (device.length === 0) return ortMessage;
  const needs = device.includes('tensorrt') ? 'CUDA 12, cuDNN 9 and TensorRT' : 'CUDA 12 and cuDNN 9';
  return (
    `${ortMessage} (the ${device.join(' and ')} execution provider is installed but did not start: it needs an NVIDIA driver, ` +
    `${needs} where the dynamic loader finds them, and a visible GPU (\`nvidia-smi\` lists it)${remedy ? `; ${FALLBACK_HINT}` : ''})`
  );
}
