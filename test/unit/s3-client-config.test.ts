import { s3ClientConfigFromEnv } from '../../src/storage/s3-client-config';
import { codeOf } from '../support/error-code';

describe('s3ClientConfigFromEnv', () => {
  it('leaves endpoint, region and credentials to the SDK chain when nothing is set', () => {
    const config = s3ClientConfigFromEnv({});
    expect(config.endpoint).toBeUndefined();
    expect(config.region).toBeUndefined();
    expect(config.credentials).toBeUndefined();
    expect(config.forcePathStyle).toBeUndefined();
    expect(config.requestChecksumCalculation).toBeUndefined();
    expect(config.maxAttempts).toBe(3);
    expect(config.retryMode).toBe('standard');
    expect(config.requestHandler).toEqual({
      connectionTimeout: 5000,
      requestTimeout: 30000,
      socketTimeout: 30000,
      throwOnRequestTimeout: true,
    });
  });

  it('does not read process.env', () => {
    const saved = process.env.FACEFLEET_S3_ENDPOINT;
    process.env.FACEFLEET_S3_ENDPOINT = 'http://127.0.0.1:1';
    try {
      expect(s3ClientConfigFromEnv({}).endpoint).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.FACEFLEET_S3_ENDPOINT;
      else process.env.FACEFLEET_S3_ENDPOINT = saved;
    }
  });

  it('with an endpoint: path style, us-east-1 and checksums only when required, by default', () => {
    const config = s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: 'http://127.0.0.1:7070' });
    expect(config.endpoint).toBe('http://127.0.0.1:7070');
    expect(config.forcePathStyle).toBe(true);
    expect(config.region).toBe('us-east-1');
    expect(config.requestChecksumCalculation).toBe('WHEN_REQUIRED');
    expect(config.responseChecksumValidation).toBe('WHEN_REQUIRED');
  });

  it('takes the region from FACEFLEET_S3_REGION, then AWS_REGION', () => {
    const endpoint = 'https://s3.example.com';
    expect(s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: endpoint, FACEFLEET_S3_REGION: 'eu-west-3', AWS_REGION: 'x' }).region).toBe('eu-west-3');
    expect(s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: endpoint, AWS_REGION: 'ap-south-1' }).region).toBe('ap-south-1');
    expect(s3ClientConfigFromEnv({ FACEFLEET_S3_REGION: 'eu-central-1' }).region).toBe('eu-central-1');
  });

  it('honours FACEFLEET_S3_FORCE_PATH_STYLE in both directions', () => {
    const endpoint = 'http://minio:9000';
    expect(s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: endpoint, FACEFLEET_S3_FORCE_PATH_STYLE: 'false' }).forcePathStyle).toBeUndefined();
    expect(s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: endpoint, FACEFLEET_S3_FORCE_PATH_STYLE: 'NO' }).forcePathStyle).toBeUndefined();
    expect(s3ClientConfigFromEnv({ FACEFLEET_S3_FORCE_PATH_STYLE: 'true' }).forcePathStyle).toBe(true);
    expect(s3ClientConfigFromEnv({ FACEFLEET_S3_FORCE_PATH_STYLE: '1' }).forcePathStyle).toBe(true);
  });

  it('defaults to path style when the SDK endpoint variables name an endpoint', () => {
    expect(s3ClientConfigFromEnv({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' }).forcePathStyle).toBe(true);
    expect(s3ClientConfigFromEnv({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' }).forcePathStyle).toBe(true);
  });

  it('treats empty and blank values as unset', () => {
    const config = s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: '', FACEFLEET_S3_REGION: '  ', FACEFLEET_S3_FORCE_PATH_STYLE: '' });
    expect(config.endpoint).toBeUndefined();
    expect(config.region).toBeUndefined();
    expect(config.forcePathStyle).toBeUndefined();
  });

  it('leaves checksum settings to the SDK when its variables are set', () => {
    const config = s3ClientConfigFromEnv({
      FACEFLEET_S3_ENDPOINT: 'http://127.0.0.1:7070',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_SUPPORTED',
    });
    expect(config.requestChecksumCalculation).toBeUndefined();
    expect(config.responseChecksumValidation).toBeUndefined();
  });

  it('leaves maxAttempts to AWS_MAX_ATTEMPTS when set, and applies tuning', () => {
    expect(s3ClientConfigFromEnv({ AWS_MAX_ATTEMPTS: '7' }).maxAttempts).toBeUndefined();
    const tuned = s3ClientConfigFromEnv({}, { maxAttempts: 1, connectionTimeoutMs: 100, requestTimeoutMs: 200, socketTimeoutMs: 300 });
    expect(tuned.maxAttempts).toBe(1);
    expect(tuned.requestHandler).toMatchObject({ connectionTimeout: 100, requestTimeout: 200, socketTimeout: 300 });
  });

  it.each([
    ['endpoint that is not a URL', { FACEFLEET_S3_ENDPOINT: 'localhost:9000x y' }, /FACEFLEET_S3_ENDPOINT/],
    ['endpoint with another protocol', { FACEFLEET_S3_ENDPOINT: 'ftp://host' }, /FACEFLEET_S3_ENDPOINT.*ftp:\/\/host/],
    ['path style that is not a boolean', { FACEFLEET_S3_FORCE_PATH_STYLE: 'sometimes' }, /FACEFLEET_S3_FORCE_PATH_STYLE.*"sometimes"/],
  ])('fails with E_CONFIG for an %s', (_label, env, message) => {
    expect(codeOf(() => s3ClientConfigFromEnv(env))).toBe('E_CONFIG');
    expect(() => s3ClientConfigFromEnv(env)).toThrow(message);
  });

  it('fails with E_CONFIG for bad tuning', () => {
    expect(codeOf(() => s3ClientConfigFromEnv({}, { maxAttempts: 0 }))).toBe('E_CONFIG');
    expect(codeOf(() => s3ClientConfigFromEnv({}, { maxAttempts: 1.5 }))).toBe('E_CONFIG');
    expect(codeOf(() => s3ClientConfigFromEnv({}, { requestTimeoutMs: -1 }))).toBe('E_CONFIG');
  });
});
