// A one-node ONNX model (MatMul, or Gemm for transposed operands) encoded by hand, so the
// onnxruntime-web benchmark needs no model files or protobuf library.

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, v: number) => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: number[]) => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, [...new TextEncoder().encode(s)]);

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d)));
  const tensorType = [...int(1, 1 /* FLOAT */), ...bytes(2, shape)];
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))];
}

export function matmulModel(M: number, N: number, K: number, transA = false, transB = false): Uint8Array {
  const useGemm = transA || transB;
  const attr = (name: string, v: number) => bytes(5, [...str(1, name), ...int(3, v), ...int(20, 2 /* INT */)]);
  const node = [...str(1, "A"), ...str(1, "B"), ...str(2, "C"), ...str(3, "mm"), ...str(4, useGemm ? "Gemm" : "MatMul"), ...(useGemm ? [...attr("transA", transA ? 1 : 0), ...attr("transB", transB ? 1 : 0)] : [])];
  const graph = [
    ...bytes(1, node),
    ...str(2, "bench"),
    ...bytes(11, valueInfo("A", transA ? [K, M] : [M, K])),
    ...bytes(11, valueInfo("B", transB ? [N, K] : [K, N])),
    ...bytes(12, valueInfo("C", [M, N])),
  ];
  const model = [...int(1, 8), ...str(2, "hearth-bench"), ...bytes(7, graph), ...bytes(8, [...str(1, ""), ...int(2, 13)])];
  return new Uint8Array(model);
}
