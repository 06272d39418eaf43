export { ERROR_CODES, ALL_ERROR_CODES, isErrorCode } from './codes';
export type { ErrorCode, ErrorKind } from './codes';
export { FacefleetError, parseReason, isPermanent } from './facefleet-error';
