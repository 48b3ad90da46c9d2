#!/usr/bin/env node
// Runs a Keras model with TensorFlow.js layers (the npm package
// @tensorflow/tfjs, pure-JS CPU backend): make_keras_fixtures.py's reference
// where tfjs implements the layers (not GRU reset_after=true, not Keras 3's
// hard_sigmoid).
//
//   node tfjs_run.js JOB.json OUT.json
//
// JOB: {"model_config": Keras topology (class_name + config, the tf.keras 2.x
// dialect), "weights": [{"shape", "values"}] in model.getWeights() order,
// "inputs": [{"tokens": bool, "shape", "values"}]}. OUT: one {"shape",
// "values"} per input, the model's output for a batch of one. tfjs is found
// through NODE_PATH (`npm install --ignore-scripts @tensorflow/tfjs`: nothing
// native, no download at install). Writes a file rather than stdout because
// tfjs prints its "use tfjs-node" hint there.
'use strict';

const fs = require('fs');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [jobPath, outPath] = process.argv.slice(2);
  const job = JSON.parse(fs.readFileSync(jobPath, 'utf8'));
  await tf.setBackend('cpu');
  const model = await tf.models.modelFromJSON({modelTopology: job.model_config});
  model.setWeights(job.weights.map((w) => tf.tensor(w.values, w.shape, 'float32')));
  const outputs = job.inputs.map((input) => {
    const x = tf.tensor(input.values, input.shape, input.tokens ? 'int32' : 'float32');
    const y = model.predict(x);
    return {shape: y.shape, values: Array.from(y.dataSync())};
  });
  fs.writeFileSync(outPath, JSON.stringify(outputs));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
