#!/usr/bin/env node
// Graft from Node: one unary Predict, one PredictStream and one KServe v2 ModelInfer
// against a running Graft, with the protos loaded from ../../proto (the server's own).
//
//   node client.js <address> <model name> <input>
//
// <input> is a PNG/JPEG file (for image models) or comma-separated floats (for
// feature models), e.g.  node client.js localhost:9000 mnist digit.png
// Exits non-zero when any call fails or an answer is inconsistent.
'use strict';

const fs = require('fs');
const { grpc, load, call } = require('./graft');

const loaded = load(['graft/v1/inference_service.proto', 'graft/v1/model_service.proto', 'inference/grpc_service.proto']);

const unary = (client, method, request) => call(client, method, request, 30);

function parseInput(arg) {
  if (fs.existsSync(arg)) {
    return { image: fs.readFileSync(arg) };
  }
  const values = arg.split(',').map(Number);
  if (values.some(Number.isNaN)) {
    throw new Error(`input '${arg}' is neither a file nor comma-separated numbers`);
  }
  return { features: { values } };
}

function show(prediction) {
  return prediction.classes.map((c) => `${c.label}(${c.index})=${c.score.toFixed(4)}`).join(' ');
}

async function predictUnary(inference, model, input) {
  const res = await unary(inference, 'Predict', { model: { name: model }, inputs: [input], topK: 3 });
  console.log(`Predict: ${res.modelName} v${res.modelVersion} on ${res.executionProvider}: ${show(res.predictions[0])}`);
  return res;
}

function predictStream(inference, model, input, count) {
  return new Promise((resolve, reject) => {
    const call = inference.PredictStream();
    const ids = [];
    call.on('data', (res) => {
      if (res.error) {
        reject(new Error(`stream request ${res.id} failed: ${res.error.code} ${res.error.message}`));
        return;
      }
      ids.push(res.id);
    });
    call.on('error', reject);
    call.on('end', () => {
      const expected = Array.from({ length: count }, (_, i) => `req-${i}`);
      if (JSON.stringify(ids) !== JSON.stringify(expected)) {
        reject(new Error(`stream answered ${JSON.stringify(ids)}, expected ${JSON.stringify(expected)}`));
        return;
      }
      console.log(`PredictStream: ${count} answers, in request order`);
      resolve();
    });
    for (let i = 0; i < count; i++) {
      call.write({ id: `req-${i}`, request: { model: { name: model }, inputs: [input], topK: 1 } });
    }
    call.end();
  });
}

async function modelInfer(kserve, model, input) {
  const meta = await unary(kserve, 'ModelMetadata', { name: model });
  const tensor = meta.inputs[0];
  const shape = tensor.shape.map(Number);
  shape[0] = 1;
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  // KServe takes tensors: an image model gets a mid-grey tensor of its input shape.
  const values = input.features ? input.features.values : new Array(size).fill(0.5);
  if (values.length !== size) {
    throw new Error(`model input ${tensor.name} ${JSON.stringify(tensor.shape)} needs ${size} values, got ${values.length}`);
  }
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  const res = await unary(kserve, 'ModelInfer', {
    modelName: model,
    id: 'node-1',
    inputs: [{ name: tensor.name, datatype: 'FP32', shape }],
    rawInputContents: [raw],
  });
  const out = res.outputs[0];
  const bytes = res.rawOutputContents[0];
  const logits = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
  console.log(`ModelMetadata: ${meta.name} versions ${meta.versions.join(',')} platform ${meta.platform}` +
    ` input ${tensor.name} ${tensor.datatype} [${tensor.shape.join(',')}]`);
  console.log(`ModelInfer: ${res.modelName} v${res.modelVersion} id ${res.id}: ${out.name} ${out.datatype}` +
    ` [${out.shape.join(',')}] = [${logits.map((v) => v.toFixed(4)).join(', ')}]`);
  if (res.id !== 'node-1' || logits.length !== Number(out.shape[1])) {
    throw new Error('ModelInfer answer is inconsistent');
  }
}

async function main() {
  const [address, model, inputArg] = process.argv.slice(2);
  if (!address || !model || !inputArg) {
    console.error('usage: node client.js <address> <model name> <image file | comma-separated floats>');
    process.exit(2);
  }
  const input = parseInput(inputArg);
  const credentials = grpc.credentials.createInsecure();
  const inference = new loaded.graft.v1.InferenceService(address, credentials);
  const kserve = new loaded.inference.GRPCInferenceService(address, credentials);
  await predictUnary(inference, model, input);
  await predictStream(inference, model, input, 20);
  await modelInfer(kserve, model, input);
  inference.close();
  kserve.close();
}

main().catch((err) => {
  console.error(`FAILED: ${err.message}`);
  process.exit(1);
});
