export { ERROR_CODES, ALL_ERROR_CODES, isErrorCode } from './codes';
export type { ErrorCode, ErrorKind } from './codes';
export { FacefleetError, parseReason, isPermanent } from './facefleet-error';
export type { ParsedReason } from './facefleet-error';
export { classify } from './classify';
export { listenError } from './listen-error';
