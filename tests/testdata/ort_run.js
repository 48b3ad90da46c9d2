#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (the npm package onnxruntime-node) on
// .npy inputs: make_onnx_fixtures.py's second, independent reference.
//
//   node ort_run.js MODEL.onnx IN_0.npy OUT_0.npy [IN_1.npy OUT_1.npy ...]
//
// Each IN is fed as the graph's only input (float32 or int64, shaped as the
// graph wants it); the graph's only output is written to OUT as float32.
// onnxruntime-node is found through NODE_PATH (its CPU library ships in the
// package: `npm install --ignore-scripts` is enough, no download at install).
// Exits 2 with ONNX Runtime's message when it refuses the model (layout=1).
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

ort.env.logLevel = 'fatal';  // a refusal is reported once, below

const DTYPES = {'<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array]};

function readNpy(path) {
  const bytes = fs.readFileSync(path);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not .npy`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1]
                    .split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!(descr in DTYPES)) throw new Error(`${path}: dtype ${descr} unsupported`);
  const [type, ArrayType] = DTYPES[descr];
  const offset = start + headerLength;
  const data = new ArrayType(bytes.buffer.slice(bytes.byteOffset + offset,
                                                bytes.byteOffset + bytes.length));
  return new ort.Tensor(type, data, shape);
}

function writeNpy(path, tensor) {
  if (tensor.type !== 'float32') throw new Error(`output is ${tensor.type}, want float32`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  fs.writeFileSync(path, Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]));
}

async function main() {
  const [model, ...pairs] = process.argv.slice(2);
  if (!model || pairs.length === 0 || pairs.length % 2 !== 0) {
    console.error('usage: node ort_run.js MODEL.onnx IN.npy OUT.npy [IN.npy OUT.npy ...]');
    process.exit(1);
  }
  let session;
  try {
    session = await ort.InferenceSession.create(model, {graphOptimizationLevel: 'disabled'});
  } catch (e) {
    console.error(`ONNX Runtime refused ${model}: ${e.message}`);
    process.exit(2);
  }
  for (let i = 0; i < pairs.length; i += 2) {
    let outputs;
    try {
      outputs = await session.run({[session.inputNames[0]]: readNpy(pairs[i])});
    } catch (e) {
      console.error(`ONNX Runtime refused to run ${model} on ${pairs[i]}: ${e.message}`);
      process.exit(2);
    }
    writeNpy(pairs[i + 1], outputs[session.outputNames[0]]);
  }
}

main().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
