/**
 * The inference thread: owns one onnxruntime session. `session.run` blocks the thread it runs on for
 * the whole inference, so it lives here, off the main thread, where BullMQ lock renewal, storage I/O
 * and `/metrics` keep running.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { runBatch } from './batch-run';
import { isDeviceProvider, missingLibrariesMessage, missingLibrariesReason, missingProviderLibraries, onnxruntimeBinaryDir, providerStartMessage } from './provider-libraries';
import { baseSessionOptions } from './session-options';
import type { FromThread, SessionThreadConfig, ToThread, WireTensor } from './thread-protocol';

const config = workerData as SessionThreadConfig;
const port = parentPort;
if (!port) throw new Error('session-thread must run as a worker thread');

function post(message: FromThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

interface Created {
  session: ort.InferenceSession;
  provider: string;
  /** The session runs on a device provider (not a CPU fallback). */
  device: boolean;
  fallbackReason?: string;
}

function create(providers: readonly string[]): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(config.modelPath, { ...baseSessionOptions(config), executionProviders: providers });
}

/**
 * The session on the wanted providers. A device provider whose libraries are missing is not even tried
 * (onnxruntime would only fail, noisily); one that fails to start is told apart from a model that
 * cannot load by loading the model on CPU, which is then the fallback when it is allowed.
 */
async function createSession(): Promise<Created> {
  const wanted = config.providers.length > 0 ? config.providers : ['cpu'];
  const device = wanted.some(isDeviceProvider);
  const missing = missingProviderLibraries(wanted, onnxruntimeBinaryDir());
  if (missing.length > 0) {
    if (!config.allowCpuFallback) throw new Error(missingLibrariesMessage(missing));
    return { session: await create(['cpu']), provider: 'cpu (fallback)', device: false, fallbackReason: missingLibrariesReason(missing) };
  }
  try {
    return { session: await create(wanted), provider: wanted.join(','), device };
  } catch (err) {
    if (!device) throw err;
    // If the model does not load on CPU either, the model is the problem, not the provider.
    const cpu = await create(['cpu']);
    if (config.allowCpuFallback) return { session: cpu, provider: 'cpu (fallback)', device: false, fallbackReason: providerStartMessage(wanted, messageOf(err), false) };
    await cpu.release().catch(() => undefined);
    throw new Error(providerStartMessage(wanted, messageOf(err)), { cause: err });
  }
}

function toOrt(feeds: Record<string, WireTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor('float32', t.data, t.dims);
  return out;
}

async function main(): Promise<void> {
  const started = performance.now();
  let created: Created;
  try {
    created = await createSession();
    const { session } = created;
    post({
      type: 'ready',
      inputNames: [...session.inputNames],
      outputNames: [...session.outputNames],
      provider: created.provider,
      device: created.device,
      ...(created.fallbackReason ? { fallbackReason: created.fallbackReason } : {}),
      loadMs: performance.now() - started,
    });
  } catch (err) {
    post({ type: 'start-failed', message: messageOf(err) });
    return;
  }
  const { session, device } = created;
  const runFeeds = async (feeds: Record<string, WireTensor>) => session.run(toOrt(feeds));

  // Runs go one at a time in arrival order. The host keeps the next batch posted while one runs, so
  // it is waiting here the moment the session is free: the device never waits for the main thread.
  let queue: Promise<void> = Promise.resolve();
  port!.on('message', (msg: ToThread) => {
    // Ends only this thread, and from a message handler, never from inside session.run: a thread torn
    // down while onnxruntime is in native code aborts the whole process.
    if (msg.type === 'exit') process.exit(0);
    if (msg.type === 'close') {
      queue = queue.then(async () => {
        await session.release().catch(() => undefined);
        post({ type: 'closed' });
        port!.close();
      });
      return;
    }
    queue = queue.then(async () => {
      const t0 = performance.now();
      try {
        // On a device, partial batches are padded to a few sizes: each new shape costs a search there.
        const out = await runBatch(runFeeds, msg.feeds, { padBatches: device });
        // The inputs go back too, so the caller can pack the next batch into the same memory.
        post({ type: 'result', id: msg.id, outputs: out.outputs, inputs: msg.feeds, ranRows: out.ranRows, runMs: performance.now() - t0 }, out.transfer);
      } catch (err) {
        post({ type: 'run-failed', id: msg.id, message: messageOf(err) });
      }
    });
  });
}

void main();
