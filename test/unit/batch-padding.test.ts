import { BATCH_BUCKET_STEP, padFeeds, paddedBatchSize, trimOutputs } from '../../src/inference/batch-padding';
import { runBatch, SessionTensor } from '../../src/inference/batch-run';
import type { WireTensor } from '../../src/inference/thread-protocol';

/** A batch of `rows` rows of `per` floats in a buffer with room for `capacity` rows; row r holds r + 1. */
function batch(rows: number, per: number, capacity: number): WireTensor {
  const data = new Float32Array(new ArrayBuffer(capacity * per * 4), 0, rows * per);
  for (let r = 0; r < rows; r++) data.fill(r + 1, r * per, (r + 1) * per);
  return { data, dims: [rows, per] };
}

describe('paddedBatchSize', () => {
  it('rounds up to 1, 2, 4, 8 and then to multiples of 8', () => {
    expect(BATCH_BUCKET_STEP).toBe(8);
    const sizes = Array.from({ length: 32 }, (_, i) => paddedBatchSize(i + 1, 32));
    expect(sizes).toEqual([1, 2, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16, 16, 24, 24, 24, 24, 24, 24, 24, 24, 32, 32, 32, 32, 32, 32, 32, 32]);
    expect(new Set(sizes).size).toBe(7);
  });

  it('never exceeds what the buffer holds, nor goes below the batch', () => {
    expect(paddedBatchSize(20, 22)).toBe(22);
    expect(paddedBatchSize(5, 6)).toBe(6);
    expect(paddedBatchSize(7, 7)).toBe(7);
    expect(paddedBatchSize(9, 3)).toBe(9);
  });

  it('refuses a batch that is not a positive integer', () => {
    expect(() => paddedBatchSize(0, 8)).toThrow(RangeError);
    expect(() => paddedBatchSize(1.5, 8)).toThrow(RangeError);
  });
});

describe('padFeeds', () => {
  it('pads into the same buffer without copying', () => {
    const x = batch(5, 3, 32);
    const padded = padFeeds({ x });
    expect(padded).toMatchObject({ rows: 5, ranRows: 8 });
    expect(padded.feeds.x.dims).toEqual([8, 3]);
    expect(padded.feeds.x.data.buffer).toBe(x.data.buffer);
    expect(padded.feeds.x.data.length).toBe(24);
    expect(Array.from(padded.feeds.x.data.subarray(0, 15))).toEqual(Array.from(x.data));
  });

  it('leaves full batches, tight buffers, batchless and disagreeing inputs as they are', () => {
    const full = batch(8, 3, 8);
    expect(padFeeds({ x: full })).toEqual({ feeds: { x: full }, rows: 8, ranRows: 8 });
    const tight = { data: new Float32Array(15), dims: [5, 3] };
    expect(padFeeds({ x: tight }).ranRows).toBe(5);
    const flat = { data: new Float32Array(new ArrayBuffer(64), 0, 5), dims: [5] };
    expect(padFeeds({ x: flat }).feeds.x).toBe(flat);
    const disagree = { a: batch(5, 3, 32), b: batch(6, 3, 32) };
    expect(padFeeds(disagree).feeds).toBe(disagree);
  });

  it('pads every input to the same size, limited by the smallest buffer', () => {
    const padded = padFeeds({ a: batch(9, 2, 32), b: batch(9, 4, 12) });
    expect(padded.ranRows).toBe(12);
    expect(padded.feeds.a.dims).toEqual([12, 2]);
    expect(padded.feeds.b.dims).toEqual([12, 4]);
  });
});

describe('trimOutputs', () => {
  it('cuts batch-major outputs back to the batch and keeps the others', () => {
    const loc = { data: Float32Array.from({ length: 16 }, (_, i) => i), dims: [8, 2] };
    const scale = { data: Float32Array.from([7]), dims: [1] };
    const out = trimOutputs({ loc, scale }, 5, 8);
    expect(out.loc.dims).toEqual([5, 2]);
    expect(Array.from(out.loc.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out.loc.data.buffer).toBe(loc.data.buffer);
    expect(out.scale).toBe(scale);
    expect(trimOutputs({ loc }, 8, 8).loc).toBe(loc);
  });
});

describe('runBatch', () => {
  /** A session whose output row r is 10 × the first value of input row r; it records the shapes it ran. */
  function rowSession(): { seen: number[][]; run: (f: Record<string, WireTensor>) => Promise<Record<string, SessionTensor>> } {
    const seen: number[][] = [];
    return {
      seen,
      async run(feeds) {
        const x = feeds.x;
        seen.push([...x.dims]);
        const [rows, per] = x.dims;
        return { y: { data: Float32Array.from({ length: rows }, (_, r) => x.data[r * per] * 10), dims: [rows, 1] } };
      },
    };
  }

  it('runs a device batch padded and gives back only its own rows', async () => {
    const session = rowSession();
    const x = batch(3, 4, 32);
    const out = await runBatch(session.run, { x }, { padBatches: true });
    expect(session.seen).toEqual([[4, 4]]);
    expect(out.ranRows).toBe(4);
    expect(out.outputs.y.dims).toEqual([3, 1]);
    expect(Array.from(out.outputs.y.data)).toEqual([10, 20, 30]);
    expect(out.transfer).toEqual([out.outputs.y.data.buffer, x.data.buffer]);
  });

  it('runs a CPU batch as it is', async () => {
    const session = rowSession();
    const out = await runBatch(session.run, { x: batch(3, 4, 32) });
    expect(session.seen).toEqual([[3, 4]]);
    expect(out.ranRows).toBe(3);
    expect(Array.from(out.outputs.y.data)).toEqual([10, 20, 30]);
  });

  it('transfers a buffer once even when outputs share it', async () => {
    const shared = new ArrayBuffer(32);
    const run = async () => ({ a: { data: new Float32Array(shared, 0, 4), dims: [1, 4] }, b: { data: new Float32Array(shared, 16, 4), dims: [1, 4] } });
    const x = batch(1, 4, 1);
    const out = await runBatch(run, { x });
    expect(out.transfer).toEqual([shared, x.data.buffer]);
  });
});
