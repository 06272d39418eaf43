import path from 'node:path';
import { isDeviceProvider, missingLibrariesMessage, missingLibrariesReason, missingProviderLibraries, onnxruntimeBinaryDir, providerLibraryNames, providerStartMessage } from '../../src/inference/provider-libraries';

const DIR = '/opt/ort/bin';
const present = (...names: string[]) => (file: string) => names.map((n) => path.join(DIR, n)).includes(file);

describe('device provider libraries', () => {
  it('knows cuda and tensorrt as device providers, cpu not', () => {
    expect(['cpu', 'cuda', 'tensorrt'].map(isDeviceProvider)).toEqual([false, true, true]);
  });

  it('names the libraries each provider loads, per platform', () => {
    expect(providerLibraryNames('cuda', 'linux')).toEqual(['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']);
    expect(providerLibraryNames('tensorrt', 'linux')).toEqual(['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so']);
    expect(providerLibraryNames('cuda', 'win32')).toEqual(['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll']);
    expect(providerLibraryNames('cpu', 'linux')).toEqual([]);
  });

  it('finds onnxruntime-node\'s binary folder for this platform', () => {
    expect(onnxruntimeBinaryDir()).toMatch(new RegExp(`onnxruntime-node[\\\\/]bin[\\\\/]napi-v6[\\\\/]${process.platform}[\\\\/]${process.arch}$`));
  });

  it('reports the missing files of each device provider asked for, and nothing for cpu', () => {
    expect(missingProviderLibraries(['cpu'], DIR, present(), 'linux')).toEqual([]);
    expect(missingProviderLibraries(['cuda', 'cpu'], DIR, present(), 'linux')).toEqual([{ provider: 'cuda', dir: DIR, files: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] }]);
    expect(missingProviderLibraries(['cuda'], DIR, present('libonnxruntime_providers_shared.so'), 'linux')).toEqual([{ provider: 'cuda', dir: DIR, files: ['libonnxruntime_providers_cuda.so'] }]);
    expect(missingProviderLibraries(['cuda'], DIR, present('libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'), 'linux')).toEqual([]);
  });

  it('says what is missing, where, and the two ways on: the GPU image or --allow-cpu-fallback', () => {
    const missing = missingProviderLibraries(['cuda'], DIR, present(), 'linux');
    const reason = missingLibrariesReason(missing);
    expect(reason).toContain('cuda execution provider is not installed');
    expect(reason).toContain('libonnxruntime_providers_cuda.so');
    expect(reason).toContain(DIR);
    const message = missingLibrariesMessage(missing);
    expect(message.startsWith(reason)).toBe(true);
    expect(message).toContain('Dockerfile.gpu');
    expect(message).toContain('--allow-cpu-fallback');
    expect(reason).not.toContain('--allow-cpu-fallback');
  });

  it('keeps onnxruntime\'s words when an installed provider does not start, and adds what it needs', () => {
    const m = providerStartMessage(['cuda'], 'CUDA failure 35: CUDA driver version is insufficient');
    expect(m.startsWith('CUDA failure 35: CUDA driver version is insufficient (')).toBe(true);
    expect(m).toContain('CUDA 12 and cuDNN 9');
    expect(m).toContain('--allow-cpu-fallback');
    expect(providerStartMessage(['cuda'], 'x', false)).not.toContain('--allow-cpu-fallback');
    expect(providerStartMessage(['tensorrt'], 'x')).toContain('TensorRT');
    expect(providerStartMessage(['cpu'], 'bad protobuf')).toBe('bad protobuf');
  });
});
