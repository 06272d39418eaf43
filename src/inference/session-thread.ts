/**
 * The inference thread: owns one onnxruntime session. `session.run` blocks the thread it runs on for
 * the whole inference, so it lives here, off the main thread, where BullMQ lock renewal, storage I/O
 * and `/metrics` keep running.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { baseSessionOptions } from './session-options';
import type { FromThread, SessionThreadConfig, ToThread, WireTensor } from './thread-protocol';

const config = workerData as SessionThreadConfig;
const port = parentPort;
if (!port) throw new Error('session-thread must run as a worker thread');

function post(message: FromThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

async function createSession(): Promise<{ session: ort.InferenceSession; provider: string }> {
  const base = baseSessionOptions(config);
  const wanted = config.providers.length > 0 ? config.providers : ['cpu'];
  try {
    const session = await ort.InferenceSession.create(config.modelPath, { ...base, executionProviders: wanted });
    return { session, provider: wanted.join(',') };
  } catch (err) {
    if (wanted.every((p) => p === 'cpu') || !config.allowCpuFallback) throw err;
    const session = await ort.InferenceSession.create(config.modelPath, { ...base, executionProviders: ['cpu'] });
    return { session, provider: 'cpu (fallback)' };
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  let session: ort.InferenceSession;
  try {
    const created = await createSession();
    session = created.session;
    post({
      type: 'ready',
      inputNames: [...session.inputNames],
      outputNames: [...session.outputNames],
      provider: created.provider,
      loadMs: performance.now() - started,
    });
  } catch (err) {
    post({ type: 'start-failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }

  port!.on('message', async (msg: ToThread) => {
    // Ends only this thread, and from a message handler, never from inside session.run: a thread torn
    // down while onnxruntime is in native code aborts the whole process.
    if (msg.type === 'exit') process.exit(0);
    if (msg.type === 'close') {
      await session.release().catch(() => undefined);
      post({ type: 'closed' });
      port!.close();
      return;
    }
    const t0 = performance.now();
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
      const result = await session.run(feeds);
      const outputs: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, tensor] of Object.entries(result)) {
        const data = tensor.data as Float32Array;
        outputs[name] = { data, dims: [...tensor.dims] };
        transfer.push(data.buffer as ArrayBuffer);
      }
      // The inputs go back too, so the caller can pack the next batch into the same memory.
      for (const t of Object.values(msg.feeds)) transfer.push(t.data.buffer as ArrayBuffer);
      post({ type: 'result', id: msg.id, outputs, inputs: msg.feeds, runMs: performance.now() - t0 }, transfer);
    } catch (err) {
      post({ type: 'run-failed', id: msg.id, message: err instanceof Error ? err.message : String(err) });
    }
  });
}

void main();
