#!/usr/bin/env node
// A complete transfer-learning walk-through from Node, with the protos the server uses:
//
//   1. create an experiment
//   2. register two datasets: a source task and a smaller target task (synthetic shapes)
//   3. pre-train a base model on the source task (or use an existing one), watching progress
//   4. transfer-learn a new head for the target task, watching progress
//   5. read the run's results and download the exported ONNX model (sha256 checked)
//   6. predict with the new model
//
//   node walkthrough.js <address> [existing base model]     e.g. localhost:9000
// Writes an example PNG of the target task next to the downloaded model, in $OUT_DIR
// (default: the current directory), for client.js. Exits non-zero on any failure.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { grpc, load, call, watch: follow } = require('./graft');

const v1 = load([
  'graft/v1/experiment_service.proto',
  'graft/v1/dataset_service.proto',
  'graft/v1/model_service.proto',
  'graft/v1/training_service.proto',
  'graft/v1/inference_service.proto',
]).graft.v1;

const address = process.argv[2] || 'localhost:9000';
const existingBase = process.argv[3];
const outDir = process.env.OUT_DIR || '.';
const credentials = grpc.credentials.createInsecure();
const experiments = new v1.ExperimentService(address, credentials);
const datasets = new v1.DatasetService(address, credentials);
const models = new v1.ModelService(address, credentials);
const training = new v1.TrainingService(address, credentials);
const inference = new v1.InferenceService(address, credentials);

const watch = (runId) => follow(training, runId);

// A 28x28 grayscale PNG of a filled square, drawn without any image library.
function squarePng() {
  const w = 28;
  const h = 28;
  const raw = Buffer.alloc(h * (w + 1));
  for (let y = 0; y < h; y++) {
    raw[y * (w + 1)] = 0; // filter: none
    for (let x = 0; x < w; x++) {
      raw[y * (w + 1) + 1 + x] = x >= 8 && x < 20 && y >= 8 && y < 20 ? 255 : 0;
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function download(name, version, file) {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    const out = fs.createWriteStream(file);
    let announced = '';
    const stream = models.DownloadModelVersion({ model: { name, version } });
    stream.on('data', (m) => {
      if (m.chunk && m.chunk.length) {
        hash.update(m.chunk);
        out.write(m.chunk);
      }
      if (m.sha256) {
        announced = m.sha256;
      }
    });
    stream.on('end', () => {
      out.end();
      const actual = hash.digest('hex');
      if (actual !== announced) {
        reject(new Error(`downloaded sha256 ${actual} != announced ${announced}`));
      } else {
        resolve(actual);
      }
    });
    stream.on('error', reject);
  });
}

async function main() {
  const tag = Date.now().toString(36);
  const experiment = await call(experiments, 'CreateExperiment', {
    name: `walkthrough-${tag}`, description: 'transfer learning from Node', tags: ['walkthrough'],
  });
  console.log(`1. experiment ${experiment.id}`);

  let base = existingBase;
  if (!base) {
    await call(datasets, 'RegisterDataset', {
      name: `source-${tag}`, source: 'DATASET_SOURCE_SYNTHETIC',
      classNames: ['circle', 'triangle', 'cross', 'ring', 'bar', 'half_disk'], examplesPerClass: 150, seed: 1,
    });
  }
  const target = await call(datasets, 'RegisterDataset', {
    name: `target-${tag}`, source: 'DATASET_SOURCE_SYNTHETIC',
    classNames: ['square', 'frame'], examplesPerClass: 60, seed: 2,
  });
  console.log(`2. target dataset ${target.name}: ${target.exampleCount} examples`);

  if (!base) {
    base = `cnn-small-${tag}`;
    const pre = await call(models, 'PretrainBaseModel', {
      name: base, architecture: 'cnn-small', dataset: `source-${tag}`, experimentId: experiment.id,
      hyperParameters: { epochs: 3, batchSize: 32, learningRate: 0.003 },
    });
    console.log(`3. pre-training ${base} (run ${pre.id})`);
    if ((await watch(pre.id)).status !== 'SUCCEEDED') {
      throw new Error('pre-training failed');
    }
  }
  const baseModel = await call(models, 'GetBaseModel', { name: base });
  console.log(`   base model ${base}: source test accuracy ${JSON.stringify(baseModel.metrics)}`);

  const modelName = `walkthrough-${tag}`;
  const run = await call(training, 'StartRun', {
    experimentId: experiment.id, baseModel: base, dataset: target.name, strategy: 'TRANSFER_LEARNING',
    hyperParameters: { epochs: 4, batchSize: 16 }, modelName, seed: 7,
  });
  console.log(`4. transfer learning: run ${run.id} ${run.status}`);
  const end = await watch(run.id);
  if (end.status !== 'SUCCEEDED') {
    throw new Error(`transfer learning ended ${end.status}: ${end.message}`);
  }

  const done = await call(training, 'GetRun', { runId: run.id });
  console.log(`5. ${done.modelVersion}: test ${JSON.stringify(done.testMetrics)}, feature cache ${done.featureCache},` +
    ` ${done.trainableParameters}/${done.totalParameters} parameters trained`);
  const version = Number(done.modelVersion.split(':')[1]);
  fs.mkdirSync(outDir, { recursive: true });
  const onnx = path.join(outDir, `${modelName}.onnx`);
  console.log(`   downloaded ${onnx}, sha256 ${await download(modelName, version, onnx)}`);

  const png = squarePng();
  fs.writeFileSync(path.join(outDir, 'square.png'), png);
  const answer = await call(inference, 'Predict', {
    model: { name: modelName }, inputs: [{ image: png }], topK: 2,
  });
  const top = answer.predictions[0].classes[0];
  console.log(`6. a square is predicted '${top.label}' (${top.score.toFixed(3)}) by ${answer.modelName} v${answer.modelVersion}`);
  console.log(`MODEL=${modelName}`);
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(`walkthrough failed: ${err.message || err}`);
    process.exit(1);
  });
