import { scrubSecrets } from '../../src/telemetry/logger';
import { captureLog } from '../support/log-capture';

const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
const PRESIGNED =
  'https://photos.s3.eu-west-1.amazonaws.com/albums/a.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Feu-west-1%2Fs3%2Faws4_request' +
  `&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-Signature=${SECRET}`;

describe('log redaction', () => {
  it('never writes credentials given as fields', () => {
    const { log, text: lines } = captureLog('debug');
    log.info(
      {
        password: SECRET,
        s3: { secretAccessKey: SECRET, sessionToken: SECRET, accessKeyId: 'AKIAEXAMPLE' },
        headers: { authorization: `Bearer ${SECRET}` },
        redisUrl: `redis://:${SECRET}@redis:6379`,
        token: SECRET,
      },
      'worker configured',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SECRET);
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ password: '[redacted]', s3: { secretAccessKey: '[redacted]', sessionToken: '[redacted]', accessKeyId: 'AKIAEXAMPLE' }, token: '[redacted]', msg: 'worker configured' });
  });

  it('never writes signed URLs or URL passwords inside messages, field values or errors', () => {
    const { log, text: lines } = captureLog('debug');
    const child = log.child({ jobId: 'j1', runId: 'r1' });
    child.warn({ source: PRESIGNED, code: 'E_STORAGE' }, `download of ${PRESIGNED} failed`);
    child.error({ err: new Error(`GET ${PRESIGNED} returned 403 via redis://user:${SECRET}@10.0.0.1:6379`) }, 'job failed');
    child.info(`connecting to rediss://default:${SECRET}@cache.internal:6380/0`);
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l).not.toContain(SECRET);
      expect(l).not.toContain('X-Amz-Credential');
      expect(JSON.parse(l)).toMatchObject({ jobId: 'j1', runId: 'r1' });
    }
    const [first, second, third] = lines.map((l) => JSON.parse(l));
    expect(first.source).toBe('https://photos.s3.eu-west-1.amazonaws.com/albums/a.jpg?[redacted]');
    expect(first.msg).toBe('download of https://photos.s3.eu-west-1.amazonaws.com/albums/a.jpg?[redacted] failed');
    expect(second.err.message).toContain('redis://user:***@10.0.0.1:6379');
    expect(second.err.type).toBe('Error');
    expect(second.err.stack).toContain('logger-redaction');
    expect(third.msg).toBe('connecting to rediss://default:***@cache.internal:6380/0');
  });

  it('leaves ordinary URLs and values alone', () => {
    expect(scrubSecrets({ url: 's3://photos/albums/a.jpg?versionId=3', n: 4, list: ['file:///data/x.png'] })).toEqual({
      url: 's3://photos/albums/a.jpg?versionId=3',
      n: 4,
      list: ['file:///data/x.png'],
    });
  });
});
