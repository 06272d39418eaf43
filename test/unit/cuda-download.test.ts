import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** The stages of a Dockerfile: the `FROM` line (its name after `AS`) and the instructions under it. */
function stages(dockerfile: string): Array<{ from: string; name: string | undefined; body: string }> {
  return dockerfile
    .split(/^(?=FROM )/m)
    .filter((part) => part.startsWith('FROM '))
    .map((part) => {
      const from = part.split('\n')[0];
      return { from, name: / AS (\S+)$/i.exec(from)?.[1], body: part };
    });
}

const ignored = (file: string) => read(file).split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

/**
 * onnxruntime-node's install script downloads its CUDA provider (hundreds of MB) on Linux x64. It is
 * kept off everywhere — npm (package.json's allowScripts) and every image stage that runs `npm ci` —
 * and run on purpose in one place only: the GPU image's deps stage, whose node_modules the GPU product
 * and the GPU benchmark both copy.
 */
describe("onnxruntime-node's CUDA download", () => {
  it('is denied to npm by package.json', () => {
    expect(JSON.parse(read('package.json')).allowScripts['onnxruntime-node']).toBe(false);
  });

  it.each([['Dockerfile'], ['Dockerfile.gpu']])('is skipped by every stage of %s that runs npm ci', (file) => {
    const withNpm = stages(read(file)).filter((s) => /npm ci/.test(s.body));
    expect(withNpm.length).toBeGreaterThan(0);
    for (const s of withNpm) {
      const skip = s.body.indexOf('ENV ONNXRUNTIME_NODE_INSTALL=skip');
      expect({ stage: s.from, skipBeforeNpmCi: skip !== -1 && skip < s.body.indexOf('npm ci') }).toEqual({ stage: s.from, skipBeforeNpmCi: true });
    }
  });

  it('never runs in the CPU image', () => {
    expect(read('Dockerfile')).not.toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda/);
  });

  it("runs once in the GPU image, in its deps stage, checked, and reaches the product and the benchmark", () => {
    const gpu = stages(read('Dockerfile.gpu'));
    const installing = gpu.filter((s) => /ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/.test(s.body));
    expect(installing.map((s) => s.name)).toEqual(['deps']);
    expect(installing[0].body).toContain('test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so');
    const product = gpu[gpu.length - 1];
    expect(product.from).toBe('FROM ${CUDA_IMAGE}');
    const bench = gpu.find((s) => s.name === 'bench')!;
    for (const s of [product, bench]) expect(s.body).toContain('COPY --from=deps /app/node_modules ./node_modules');
  });

  it('has a bench target with the tooling, redis-server and the samples, which the product leaves out', () => {
    const gpu = stages(read('Dockerfile.gpu'));
    const bench = gpu.find((s) => s.name === 'bench')!;
    expect(bench.body).toContain('COPY --from=bench-build /app/dist/tools ./dist/tools');
    expect(bench.body).toMatch(/apt-get install -y --no-install-recommends redis-server/);
    expect(bench.body).toContain('COPY samples ./samples');
    expect(bench.body).toContain('CMD ["bench", "--providers", "cuda"]');
    const product = gpu[gpu.length - 1].body;
    expect(product).not.toMatch(/tools|samples|redis-server/);
    // The GPU build context holds tools/ and samples/ for that target; the CPU image's does not.
    const gpuContext = ignored('Dockerfile.gpu.dockerignore');
    expect(gpuContext).not.toContain('tools');
    expect(gpuContext).not.toContain('samples');
    expect(gpuContext).toContain('test');
    expect(ignored('.dockerignore')).toEqual(expect.arrayContaining(['tools', 'samples', 'test']));
  });
});
