import * as os from 'node:os';
import * as path from 'node:path';
import { FacefleetError } from '../errors';

/** The environment variable that overrides where pulled model files are cached. */
export const MODEL_CACHE_ENV = 'FACEFLEET_MODEL_CACHE';

/** Inputs of {@link resolveModelCacheDir}; both default to the running process's. */
export interface ModelCacheSource {
  /**
   * Environment to read {@link MODEL_CACHE_ENV} from.
   * @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Home directory used when the variable is unset or empty.
   * @defaultValue `os.homedir()`
   */
  homeDir?: string;
}

/**
 * The directory pulled model files are cached in: `$FACEFLEET_MODEL_CACHE` when set (resolved to an
 * absolute path), else `~/.cache/facefleet/models`. Only resolves the path; nothing is created.
 *
 * Throws `FacefleetError('E_CONFIG')` when no home directory is known and the variable is unset.
 */
export function resolveModelCacheDir(source: ModelCacheSource = {}): string {
  const env = source.env ?? process.env;
  const configured = env[MODEL_CACHE_ENV]?.trim();
  if (configured) return path.resolve(configured);
  const home = source.homeDir ?? os.homedir();
  if (!home) {
    throw new FacefleetError('E_CONFIG', `${MODEL_CACHE_ENV}: expected a directory, got nothing and no home directory is known`);
  }
  return path.join(home, '.cache', 'facefleet', 'models');
}

/**
 * The directory one model version lives in inside the cache: `<cacheDir>/<id>/<version>`. Both parts
 * must be plain names (letters, digits, `.`, `_`, `-`) so that they cannot leave the cache; otherwise
 * throws `FacefleetError('E_MODEL')`.
 */
export function modelVersionDir(cacheDir: string, id: string, version: string): string {
  for (const [field, value] of [['id', id], ['version', version]] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
      throw new FacefleetError('E_MODEL', `model ${field}: expected a plain name, got ${JSON.stringify(value)}`);
    }
  }
  return path.join(cacheDir, id, version);
}
