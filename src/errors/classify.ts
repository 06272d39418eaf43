import { FacefleetError } from './facefleet-error';

/**
 * The classified form of anything thrown: a {@link FacefleetError} as it is; anything else (a bug, or a
 * third-party error no adapter converted) as `E_INTERNAL` with the original as its `cause`, so its
 * stack can be logged. The one place where an unclassified error gets a code.
 */
export function classify(err: unknown): FacefleetError {
  if (err instanceof FacefleetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FacefleetError('E_INTERNAL', message || 'unclassified error', { cause: err });
}
