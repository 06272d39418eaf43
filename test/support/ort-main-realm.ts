import * as vm from 'node:vm';

/** The typed-array constructors onnxruntime-common checks tensor data against. */
const TYPED_ARRAYS = [
  'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'BigInt64Array', 'BigUint64Array',
] as const;

/**
 * Makes the current Jest test context use the typed-array constructors of Node's main context.
 *
 * Jest runs each test file in its own vm context, with its own `Float32Array`, while
 * onnxruntime-node's native binding creates output data in the main context; onnxruntime-common's
 * `instanceof` check then rejects every output ("A float32 tensor's data must be type of function
 * Float32Array()"). Importing this module before `onnxruntime-node` (it runs on import) lets a test
 * run an `InferenceSession` directly. Test-only: production code runs outside Jest's sandbox.
 */
export function useMainRealmTypedArrays(): void {
  const target = globalThis as unknown as Record<string, unknown>;
  for (const name of TYPED_ARRAYS) target[name] = vm.runInThisContext(name);
}

useMainRealmTypedArrays();
