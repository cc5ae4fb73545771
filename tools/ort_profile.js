#!/usr/bin/env node
// ONNX Runtime's own time per node of a model, to set beside `kiln bench --layers`: the same
// session options as the benchmark's peer (CPU, one intra-op and one inter-op thread, sequential,
// all graph optimizations), ORT's profiler on, a fixed input, and each node's median over the
// timed runs. ORT rewrites the graph first (fusions, NHWC for int8 convolutions), so its nodes
// are named after its own rewritten graph; they keep the order they ran in.
//
// Usage: node tools/ort_profile.js MODEL.onnx SHAPE [RUNS]      SHAPE: 1x3x96x96 (float input)
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function loadOrt() {
  const local = path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node');
  return require(fs.existsSync(local) ? local : 'onnxruntime-node');
}

async function main() {
  const [model, shapeText, runsText] = process.argv.slice(2);
  const runs = Number(runsText || 100);
  const dims = (shapeText || '').split('x').map(Number);
  if (!model || dims.length === 0 || dims.some((d) => !(d > 0)) || !(runs > 0)) {
    console.error('usage: node tools/ort_profile.js MODEL.onnx SHAPE [RUNS]   (SHAPE like 1x3x96x96)');
    process.exit(2);
  }
  const ort = loadOrt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ort-profile-'));
  try {
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      enableProfiling: true, profileFilePrefix: path.join(dir, 'profile'),
    });
    const count = dims.reduce((a, b) => a * b, 1);
    const x = new Float32Array(count);
    for (let i = 0; i < count; ++i) x[i] = ((i * 7919) % 255) / 128 - 1;  // the same pattern every run
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, dims) };
    for (let r = 0; r < runs; ++r) await session.run(feeds);
    session.endProfiling();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const nodes = new Map();  // first-run order
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const key = e.name.slice(0, -'_kernel_time'.length);
      if (!nodes.has(key)) nodes.set(key, { op: e.args.op_name, us: [] });
      nodes.get(key).us.push(e.dur);
    }
    const median = (v) => {
      const s = [...v].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    let total = 0;
    let k = 0;
    for (const [name, n] of nodes) {
      const m = median(n.us);
      total += m;
      console.log(`  node=${k++} median_us=${m} ${n.op} '${name}'`);
    }
    console.log(`${model} nodes=${nodes.size} sum_of_medians_us=${total} runs=${runs}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`ort_profile: ${e.message || e}`);
  process.exit(1);
});
