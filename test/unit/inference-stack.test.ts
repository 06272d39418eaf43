import { inferenceStackMb } from '../../src/inference/session-host';

describe('inferenceStackMb', () => {
  it('is 16 MiB plus 512 bytes per command-line byte, rounded up to whole MiB', () => {
    expect(inferenceStackMb([])).toBe(16);
    expect(inferenceStackMb(['node', 'facefleet.js', 'worker'])).toBe(17);
    // 2,048 arguments of 1,023 characters plus their NULs: 2 MiB of argv → 1 GiB more stack.
    expect(inferenceStackMb(Array.from({ length: 2048 }, () => 'x'.repeat(1023)))).toBe(16 + 1024);
  });
});
