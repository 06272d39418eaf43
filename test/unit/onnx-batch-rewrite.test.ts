// Must come before onnxruntime-node: see the module.
import '../support/ort-main-realm';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { rewriteForDynamicBatch } from '../../src/models/onnx-batch-rewrite';
import { codeOf } from '../support/error-code';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function value(name: string, dims: number[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

function ints(name: string, values: number[]): onnx.ITensorProto {
  return { name, dataType: INT64, dims: [values.length], int64Data: values };
}

interface TinyOptions {
  /** The zeros go before x instead of after it. */
  padFirst?: boolean;
  /** Fill value of the ConstantOfShape. */
  fill?: number;
  concatAxis?: number;
  /** Put an Identity after the Reshape, so the Reshape no longer produces the graph output. */
  reshapeInside?: boolean;
}

/**
 * The two batch-pinning patterns of the BlazeFace export in miniature: x `[1, 2, 3, 3]` is padded to
 * 4 channels by `Concat(x, ConstantOfShape([1, 2, 3, 3]))`, then `Reshape`d to `[1, 36]`.
 */
function tinyModel(options: TinyOptions = {}): Uint8Array {
  const axis = options.concatAxis ?? 1;
  const fill = options.fill === undefined ? [] : [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dataType: FLOAT, dims: [1], floatData: [options.fill] } }];
  const nodes: onnx.INodeProto[] = [
    { opType: 'ConstantOfShape', input: ['zeros_shape'], output: ['zeros'], attribute: fill },
    {
      opType: 'Concat', name: 'pad_channels', input: options.padFirst ? ['zeros', 'x'] : ['x', 'zeros'], output: ['padded'],
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }],
    },
    { opType: 'Reshape', name: 'flatten', input: ['padded', 'flat_shape'], output: [options.reshapeInside ? 'flat' : 'y'] },
  ];
  if (options.reshapeInside) nodes.push({ opType: 'Identity', input: ['flat'], output: ['y'] });
  const model: onnx.IModelProto = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: 12 }],
    graph: {
      name: 'tiny',
      node: nodes,
      initializer: [ints('zeros_shape', [1, 2, 3, 3]), ints('flat_shape', [1, 36]), ints('unused', [7])],
      input: [value('x', [1, 2, 3, 3])],
      output: [value('y', [1, 36])],
      valueInfo: [value('zeros', [1, 2, 3, 3]), value('padded', [1, 4, 3, 3])],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

describe('rewriteForDynamicBatch', () => {
  it('reports what it changed', () => {
    const { report } = rewriteForDynamicBatch(tinyModel());
    expect(report.reshapes).toEqual([{ node: 'flatten', shape: 'flat_shape', before: [1, 36], after: [-1, 36] }]);
    expect(report.pads).toEqual([{ node: 'pad_channels__pad', removed: 'zeros', axis: 1, before: 0, after: 2 }]);
    expect(report.prunedInitializers).toEqual(['unused']);
    // x, y and `padded` (the value_info of the removed `zeros` is dropped).
    expect(report.symbolicDims).toBe(3);
  });

  it('writes a graph with a symbolic batch, a Pad instead of ConstantOfShape + Concat, and no dead tensors', () => {
    const model = onnx.ModelProto.decode(rewriteForDynamicBatch(tinyModel()).model);
    const graph = model.graph!;
    expect(graph.node!.map((n) => n.opType)).toEqual(['Pad', 'Reshape']);
    expect(graph.initializer!.map((t) => t.name).sort()).toEqual(['flat_shape', 'padded__facefleet_pads']);
    expect(graph.input![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
    expect(graph.output![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
    expect(graph.valueInfo!.map((v) => v.name)).toEqual(['padded']);
  });

  it.each([
    ['after', false],
    ['before', true],
  ])('runs a batch of 3 exactly like the padding it replaced (zeros %s x)', async (_label, padFirst) => {
    const session = await ort.InferenceSession.create(rewriteForDynamicBatch(tinyModel({ padFirst })).model);
    const x = Float32Array.from({ length: 3 * 18 }, (_, i) => i + 1);
    const { y } = await session.run({ x: new ort.Tensor('float32', x, [3, 2, 3, 3]) });
    expect(y.dims).toEqual([3, 36]);
    for (let b = 0; b < 3; b++) {
      const image = Array.from(x.subarray(b * 18, (b + 1) * 18));
      const zeros = new Array<number>(18).fill(0);
      expect(Array.from((y.data as Float32Array).subarray(b * 36, (b + 1) * 36))).toEqual(padFirst ? [...zeros, ...image] : [...image, ...zeros]);
    }
    await session.release();
  });

  it('leaves the original unable to take a batch of 3 (what the rewrite is for)', async () => {
    const session = await ort.InferenceSession.create(Buffer.from(tinyModel()), { logSeverityLevel: 3 });
    const x = new ort.Tensor('float32', new Float32Array(3 * 18), [3, 2, 3, 3]);
    await expect(session.run({ x })).rejects.toThrow();
    await session.release();
  });

  it('refuses graphs it cannot prove batch-safe with E_MODEL', () => {
    expect(codeOf(() => rewriteForDynamicBatch(tinyModel({ fill: 1 })))).toBe('E_MODEL');
    expect(codeOf(() => rewriteForDynamicBatch(tinyModel({ concatAxis: 0 })))).toBe('E_MODEL');
    expect(codeOf(() => rewriteForDynamicBatch(tinyModel({ reshapeInside: true })))).toBe('E_MODEL');
    expect(codeOf(() => rewriteForDynamicBatch(Buffer.from('definitely not protobuf \xff\xff\xff')))).toBe('E_MODEL');
  });

  it('accepts an explicit zero fill and a custom batch name', () => {
    const { model } = rewriteForDynamicBatch(tinyModel({ fill: 0 }), { batchDim: 'N' });
    expect(onnx.ModelProto.decode(model).graph!.input![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('N');
  });
});
