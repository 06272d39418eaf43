import { onnx } from 'onnx-proto';
import { FacefleetError } from '../errors';

/** What {@link rewriteForDynamicBatch} changed, for the pull record and the logs. */
export interface BatchRewriteReport {
  /** Output Reshape nodes whose constant target shape got `-1` as its first entry. */
  reshapes: Array<{ node: string; shape: string; before: number[]; after: number[] }>;
  /** ConstantOfShape + Concat pairs replaced by one zero `Pad` on the concat axis. */
  pads: Array<{ node: string; removed: string; axis: number; before: number; after: number }>;
  /** Initializers no node reads (tf2onnx leftovers, which onnxruntime warns about), dropped. */
  prunedInitializers: string[];
  /** Graph inputs, outputs and value_info entries whose first dimension became symbolic. */
  symbolicDims: number;
  /** The symbolic name given to the batch dimension. */
  batchDim: string;
}

/** The rewritten model bytes and the report of what changed. */
export interface BatchRewriteResult {
  model: Buffer;
  report: BatchRewriteReport;
}

/** Options of {@link rewriteForDynamicBatch}. */
export interface BatchRewriteOptions {
  /**
   * Name of the symbolic batch dimension written into the graph's inputs, outputs and value_info.
   * @defaultValue `'batch'`
   */
  batchDim?: string;
}

const INT64 = onnx.TensorProto.DataType.INT64;
type IntLike = number | { toNumber(): number };

function fail(message: string): never {
  throw new FacefleetError('E_MODEL', `dynamic-batch rewrite: ${message}`);
}

function toNumber(v: IntLike): number {
  return typeof v === 'number' ? v : v.toNumber();
}

/** Reads an INT64 tensor stored either as `int64_data` or as little-endian `raw_data`. */
function readInt64s(t: onnx.ITensorProto): number[] {
  if (t.dataType !== INT64) fail(`initializer ${t.name} is not INT64`);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
  }
  return (t.int64Data ?? []).map((v) => toNumber(v as IntLike));
}

function int64Tensor(name: string, values: number[]): onnx.TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return onnx.TensorProto.create({ name, dataType: INT64, dims: [values.length], rawData: raw });
}

/** True when a ConstantOfShape's `value` attribute is absent or a zero scalar. */
function fillsWithZero(node: onnx.INodeProto): boolean {
  const t = node.attribute?.find((a) => a.name === 'value')?.t;
  if (!t) return true;
  if (t.floatData && t.floatData.length > 0) return t.floatData.every((v) => v === 0);
  if (t.rawData && t.rawData.length > 0) return t.rawData.every((b) => b === 0);
  return (t.int64Data ?? []).every((v) => toNumber(v as IntLike) === 0) && (t.int32Data ?? []).every((v) => v === 0);
}

/**
 * Makes the batch axis of a graph exported with a fixed batch of 1 dynamic, without touching any
 * weight. Two patterns pin the batch: Reshape nodes producing graph outputs with a constant target
 * shape `[1, …]` (rewritten to `[-1, …]`), and channel padding built as `Concat(x, ConstantOfShape([1, c,
 * h, w]))` (rewritten to `Pad(x)` with zeros on the concat axis). Every first dimension equal to 1 in
 * the graph's inputs, outputs and value_info then becomes the symbolic `batchDim`, and initializers
 * that no node reads are dropped.
 *
 * Pure: bytes in, bytes out. Throws `FacefleetError('E_MODEL')` when the graph holds a pattern it
 * cannot prove batch-safe (another Reshape, a shared or non-constant shape, a non-zero fill).
 */
export function rewriteForDynamicBatch(bytes: Uint8Array, options: BatchRewriteOptions = {}): BatchRewriteResult {
  const batchDim = options.batchDim ?? 'batch';
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new FacefleetError('E_MODEL', 'dynamic-batch rewrite: not an ONNX model', { cause: err });
  }
  const graph = (model.graph ?? fail('model has no graph')) as onnx.GraphProto;
  // Decoded messages are class instances, so their repeated and string fields are always present.
  let nodes = graph.node as onnx.NodeProto[];
  let initializers = graph.initializer as onnx.TensorProto[];
  const opset = toNumber((model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0) as IntLike);
  const inits = new Map(initializers.map((t) => [t.name, t]));
  const uses = new Map<string, number>();
  for (const n of nodes) for (const i of n.input) uses.set(i, (uses.get(i) ?? 0) + 1);
  const graphOutputs = new Set(graph.output.map((o) => o.name ?? ''));
  const report: BatchRewriteReport = { reshapes: [], pads: [], prunedInitializers: [], symbolicDims: 0, batchDim };

  for (const node of nodes.filter((n) => n.opType === 'Reshape')) {
    const label = node.name || node.output[0];
    if (!graphOutputs.has(node.output[0])) fail(`Reshape ${label} does not produce a graph output`);
    const shape = inits.get(node.input[1]) ?? fail(`Reshape ${label} has a non-constant shape`);
    if (uses.get(shape.name) !== 1) fail(`shape ${shape.name} of Reshape ${label} is shared`);
    const before = readInt64s(shape);
    if (before[0] !== 1) fail(`Reshape ${label} target shape [${before}] does not start with 1`);
    const after = [-1, ...before.slice(1)];
    initializers[initializers.indexOf(shape)] = int64Tensor(shape.name, after);
    report.reshapes.push({ node: label, shape: shape.name, before, after });
  }

  const removed = new Set<onnx.NodeProto>();
  const removedTensors = new Set<string>();
  for (const fill of nodes.filter((n) => n.opType === 'ConstantOfShape')) {
    const label = fill.name || fill.output[0];
    const shapeInit = inits.get(fill.input[0]) ?? fail(`ConstantOfShape ${label} has a non-constant shape`);
    const shape = readInt64s(shapeInit);
    if (shape[0] !== 1) fail(`ConstantOfShape ${label} shape [${shape}] does not start with 1`);
    if (!fillsWithZero(fill)) fail(`ConstantOfShape ${label} fills with a non-zero value`);
    const consumers = nodes.filter((n) => n.input.includes(fill.output[0]));
    const concat = consumers[0];
    if (consumers.length !== 1 || concat.opType !== 'Concat' || concat.input.length !== 2) {
      fail(`ConstantOfShape ${label} does not feed exactly one two-input Concat`);
    }
    const axisAttr = concat.attribute.find((a) => a.name === 'axis');
    const axis = ((toNumber((axisAttr?.i ?? 0) as IntLike) % shape.length) + shape.length) % shape.length;
    if (axis === 0) fail(`Concat ${concat.name} concatenates along the batch axis`);
    const padFirst = concat.input[0] === fill.output[0];
    const data = padFirst ? concat.input[1] : concat.input[0];
    const pads = new Array<number>(shape.length * 2).fill(0);
    pads[padFirst ? axis : shape.length + axis] = shape[axis];
    const padsName = `${concat.output[0]}__facefleet_pads`;
    const pad = onnx.NodeProto.create({
      name: `${concat.name || concat.output[0]}__pad`,
      opType: 'Pad',
      output: concat.output,
      input: opset >= 11 ? [data, padsName] : [data],
      attribute: [
        onnx.AttributeProto.create({ name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from('constant') }),
        ...(opset >= 11 ? [] : [onnx.AttributeProto.create({ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: pads })]),
      ],
    });
    if (opset >= 11) initializers.push(int64Tensor(padsName, pads));
    nodes[nodes.indexOf(concat)] = pad;
    removed.add(fill);
    removedTensors.add(fill.output[0]);
    if (uses.get(shapeInit.name) === 1) removedTensors.add(shapeInit.name);
    report.pads.push({ node: pad.name, removed: label, axis, before: padFirst ? shape[axis] : 0, after: padFirst ? 0 : shape[axis] });
  }
  nodes = nodes.filter((n) => !removed.has(n));
  const read = new Set(nodes.flatMap((n) => n.input));
  for (const o of graph.output) read.add(o.name ?? '');
  for (const t of initializers) {
    if (!read.has(t.name) && !removedTensors.has(t.name)) report.prunedInitializers.push(t.name);
  }
  initializers = initializers.filter((t) => read.has(t.name));
  const dropped = new Set([...removedTensors, ...report.prunedInitializers]);
  graph.input = graph.input.filter((i) => !dropped.has(i.name ?? ''));
  graph.node = nodes;
  graph.initializer = initializers;
  graph.valueInfo = graph.valueInfo.filter((v) => !removedTensors.has(v.name ?? ''));

  const initNames = new Set(initializers.map((t) => t.name));
  const ioValues = [...graph.input.filter((i) => !initNames.has(i.name ?? '')), ...graph.output];
  for (const value of [...ioValues, ...graph.valueInfo]) {
    const dims = value.type?.tensorType?.shape?.dim;
    if (!dims || dims.length === 0) continue;
    if (dims[0].dimParam) continue;
    if (toNumber((dims[0].dimValue ?? 0) as IntLike) !== 1) {
      if (ioValues.includes(value)) fail(`${value.name} has a first dimension other than 1`);
      continue;
    }
    dims[0] = onnx.TensorShapeProto.Dimension.create({ dimParam: batchDim, denotation: dims[0].denotation ?? '' });
    report.symbolicDims++;
  }
  return { model: Buffer.from(onnx.ModelProto.encode(model).finish()), report };
}
