import fs from 'node:fs';
import { pullBlazeFace } from '../models/blazeface-pull';
import { resolveModelCacheDir } from '../models/model-cache';
import { listModels, loadManifest } from '../models/registry';

/** `facefleet models pull|list`. */
export async function runModels(action: 'pull' | 'list'): Promise<number> {
  const cacheDir = resolveModelCacheDir();
  if (action === 'pull') {
    const r = await pullBlazeFace({ cacheDir, logger: (m) => process.stderr.write(`${m}\n`) });
    process.stdout.write(`${JSON.stringify({ modelPath: r.modelPath, originalPath: r.originalPath, dynamicBatch: r.dynamicBatch, pulled: r.pulled, rewriteError: r.rewriteError }, null, 2)}\n`);
    return 0;
  }
  for (const id of listModels()) {
    const m = loadManifest(id);
    process.stdout.write(`${m.id}@${m.version}  ${m.license ?? ''}\n`);
  }
  process.stdout.write(`cache: ${cacheDir}${fs.existsSync(cacheDir) ? '' : ' (empty)'}\n`);
  process.stdout.write('mogface: bring your own export (models/mogface/export.py), then --model mogface --model-path FILE.onnx\n');
  return 0;
}
