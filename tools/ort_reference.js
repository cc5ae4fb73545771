#!/usr/bin/env node
// Run an ONNX model with ONNX Runtime (CPU, 1 thread, default graph
// optimizations) and dump the outputs, so tests/models reference outputs come
// from an independent inference engine rather than from the exporter (torch).
//
// Usage: node tools/ort_reference.js MANIFEST.json
//
// The interchange with tools/make_models.py is deliberately trivial (JSON +
// raw little-endian buffers) so neither side needs a protobuf parser:
//   MANIFEST = { "model": "path/model.onnx", "out_dir": "dir",
//                "runs": [ { "inputs": [ {"name", "dtype", "shape", "file"} ] } ] }
// Writes out_dir/run<R>_output<K>.bin and out_dir/result.json =
//   { "ort_version", "runs": [ { "outputs": [ {"name","dtype","shape","file"} ] } ] }
// with outputs in the model's graph output order.
'use strict';

const fs = require('fs');
const path = require('path');

// onnxruntime-node is installed into tools/ort/node_modules (git-ignored) by
// make_models.py; fall back to normal resolution for ad-hoc use.
function loadOrt() {
  const local = path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node');
  return require(fs.existsSync(local) ? local : 'onnxruntime-node');
}

const TYPED = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};

function readTensor(ort, spec, baseDir) {
  const Typed = TYPED[spec.dtype];
  if (!Typed) throw new Error(`unsupported dtype ${spec.dtype} for input ${spec.name}`);
  const buf = fs.readFileSync(path.resolve(baseDir, spec.file));
  // Copy into a fresh ArrayBuffer: Node Buffers may be unaligned views into a pool.
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Typed(ab);
  if (data.length !== count) {
    throw new Error(`${spec.file}: ${data.length} elements, shape ${spec.shape} needs ${count}`);
  }
  return new ort.Tensor(spec.dtype, data, spec.shape);
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node tools/ort_reference.js MANIFEST.json');
    process.exit(2);
  }
  const ort = loadOrt();
  const manifestPath = path.resolve(process.argv[2]);
  const baseDir = path.dirname(manifestPath);
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const outDir = path.resolve(baseDir, manifest.out_dir || '.');
  fs.mkdirSync(outDir, { recursive: true });

  const session = await ort.InferenceSession.create(path.resolve(baseDir, manifest.model), {
    executionProviders: ['cpu'],
    // Single-threaded so results do not depend on the machine's core count.
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all', // ORT's own default, stated explicitly
  });

  const result = { ort_version: ort.env.versions.common, runs: [] };
  for (let r = 0; r < manifest.runs.length; r++) {
    const feeds = {};
    for (const spec of manifest.runs[r].inputs) feeds[spec.name] = readTensor(ort, spec, baseDir);
    const outputs = await session.run(feeds);
    const run = { outputs: [] };
    session.outputNames.forEach((name, k) => {
      const t = outputs[name];
      const file = `run${r}_output${k}.bin`;
      fs.writeFileSync(path.join(outDir, file),
        Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      run.outputs.push({ name, dtype: t.type, shape: t.dims.map(Number), file });
    });
    result.runs.push(run);
  }
  fs.writeFileSync(path.join(outDir, 'result.json'), JSON.stringify(result, null, 1));
}

main().catch((e) => { console.error(e); process.exit(1); });
