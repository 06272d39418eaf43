import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { FacefleetError } from '../errors';

/** Environment variables read by {@link s3ClientConfigFromEnv}; any other entries are ignored. */
export interface S3Env {
  /** Custom S3-compatible endpoint, e.g. `http://127.0.0.1:7070`. Unset: AWS's own endpoints. */
  FACEFLEET_S3_ENDPOINT?: string;
  /** Signing region. Unset: the SDK's chain (`AWS_REGION`, profile), or `us-east-1` with a custom endpoint. */
  FACEFLEET_S3_REGION?: string;
  /** `true`/`false` (also `1`/`0`, `yes`/`no`): path-style addressing. Default: true when an endpoint is set. */
  FACEFLEET_S3_FORCE_PATH_STYLE?: string;
  /** Read by the SDK itself; consulted here only to derive defaults. */
  AWS_REGION?: string;
  /** Endpoint for S3 read by the SDK itself; makes path style the default. */
  AWS_ENDPOINT_URL_S3?: string;
  /** Endpoint for every service read by the SDK itself; makes path style the default. */
  AWS_ENDPOINT_URL?: string;
  /** Read by the SDK itself; when set, {@link S3ClientTuning.maxAttempts} has no default here. */
  AWS_MAX_ATTEMPTS?: string;
  /** Read by the SDK itself; when set, the custom-endpoint checksum default is not applied. */
  AWS_REQUEST_CHECKSUM_CALCULATION?: string;
  /** Read by the SDK itself; when set, the custom-endpoint checksum default is not applied. */
  AWS_RESPONSE_CHECKSUM_VALIDATION?: string;
  [name: string]: string | undefined;
}

/** Retry and timeout settings of the client. */
export interface S3ClientTuning {
  /**
   * Attempts per request, first try included, for throttling, 5xx and connection errors (the SDK's
   * standard retry mode with jittered exponential backoff). BullMQ retries the job on top of this.
   * @defaultValue 3 (or the SDK's `AWS_MAX_ATTEMPTS` when set)
   */
  maxAttempts?: number;
  /**
   * Milliseconds allowed to establish a TCP/TLS connection.
   * @defaultValue 5000
   */
  connectionTimeoutMs?: number;
  /**
   * Milliseconds from sending a request until the response headers arrive; then the request fails with
   * a timeout (transient).
   * @defaultValue 30000
   */
  requestTimeoutMs?: number;
  /**
   * Milliseconds a socket may stay idle, including while a response body is streaming.
   * @defaultValue 30000
   */
  socketTimeoutMs?: number;
}

const TRUE_VALUES = new Set(['true', '1', 'yes']);
const FALSE_VALUES = new Set(['false', '0', 'no']);

/**
 * Maps an environment to an `S3Client` configuration. Pure: reads only `env`, never `process.env`.
 *
 * Credentials are not set here: the SDK's default chain applies (`AWS_ACCESS_KEY_ID`/
 * `AWS_SECRET_ACCESS_KEY`, profiles, web identity, container and instance metadata). The SDK also still
 * honours `AWS_REGION`, `AWS_ENDPOINT_URL_S3` and friends for whatever is left unset here.
 *
 * With a custom endpoint (`FACEFLEET_S3_ENDPOINT`) path-style addressing is the default, the region
 * defaults to `us-east-1` when nothing else names one, and checksums are only computed and validated
 * when an operation requires them (many S3-compatible servers reject the SDK's default trailers).
 *
 * @param env - Usually `process.env`.
 * @param tuning - Retry and timeout settings; see {@link S3ClientTuning} for defaults.
 * @throws FacefleetError `E_CONFIG` naming the variable, what was expected and what was given.
 */
export function s3ClientConfigFromEnv(env: S3Env, tuning: S3ClientTuning = {}): S3ClientConfig {
  const endpoint = readEndpoint(env);
  const region = nonEmpty(env.FACEFLEET_S3_REGION);
  const sdkEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const pathStyle = readBoolean(env, 'FACEFLEET_S3_FORCE_PATH_STYLE') ?? (endpoint !== undefined || sdkEndpoint !== undefined);

  const config: S3ClientConfig = {
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: positiveMs('connectionTimeoutMs', tuning.connectionTimeoutMs, 5_000),
      requestTimeout: positiveMs('requestTimeoutMs', tuning.requestTimeoutMs, 30_000),
      socketTimeout: positiveMs('socketTimeoutMs', tuning.socketTimeoutMs, 30_000),
      throwOnRequestTimeout: true,
    },
  };
  const maxAttempts = tuning.maxAttempts ?? (nonEmpty(env.AWS_MAX_ATTEMPTS) === undefined ? 3 : undefined);
  if (maxAttempts !== undefined) {
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new FacefleetError('E_CONFIG', `S3 maxAttempts: expected an integer >= 1, got ${maxAttempts}`);
    }
    config.maxAttempts = maxAttempts;
  }
  if (pathStyle) config.forcePathStyle = true;
  if (endpoint !== undefined) {
    config.endpoint = endpoint;
    config.region = region ?? nonEmpty(env.AWS_REGION) ?? 'us-east-1';
    if (nonEmpty(env.AWS_REQUEST_CHECKSUM_CALCULATION) === undefined) config.requestChecksumCalculation = 'WHEN_REQUIRED';
    if (nonEmpty(env.AWS_RESPONSE_CHECKSUM_VALIDATION) === undefined) config.responseChecksumValidation = 'WHEN_REQUIRED';
  } else if (region !== undefined) {
    config.region = region;
  }
  return config;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function readEndpoint(env: S3Env): string | undefined {
  const raw = nonEmpty(env.FACEFLEET_S3_ENDPOINT);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch (err) {
    throw new FacefleetError('E_CONFIG', `FACEFLEET_S3_ENDPOINT: expected an http(s) URL, got ${JSON.stringify(raw)}`, {
      cause: err,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new FacefleetError('E_CONFIG', `FACEFLEET_S3_ENDPOINT: expected an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

function readBoolean(env: S3Env, name: string): boolean | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  const lower = raw.toLowerCase();
  if (TRUE_VALUES.has(lower)) return true;
  if (FALSE_VALUES.has(lower)) return false;
  throw new FacefleetError('E_CONFIG', `${name}: expected true or false, got ${JSON.stringify(raw)}`);
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new FacefleetError('E_CONFIG', `S3 ${name}: expected a positive number of milliseconds, got ${value}`);
  }
  return value;
}
