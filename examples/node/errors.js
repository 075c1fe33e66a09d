#!/usr/bin/env node
// Error texts as a grpc-js client receives them: each must read exactly as the server wrote it,
// punctuation (, ; : = / [ ]), '%' and non-ASCII included.
//
//   node errors.js <address> [image model trained by walkthrough.js]
// Exits non-zero when a text differs.
'use strict';

const { grpc, load } = require('./graft');

const v1 = load(['graft/v1/inference_service.proto', 'graft/v1/model_service.proto']).graft.v1;
const address = process.argv[2] || 'localhost:9000';
const imageModel = process.argv[3];
const credentials = grpc.credentials.createInsecure();

// The same name as ErrorTextTest (Java) and errors.py (Python).
const AWKWARD_NAME = 'naïve, a;b:c=d/e%f 100% ✓ 日本 "q" %3B';

function failure(client, method, request) {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline: Date.now() + 30000 }, (err) =>
      err ? resolve(err) : reject(new Error(`${method} succeeded; expected an error`))));
}

function expect(err, code, details) {
  if (err.code !== code || err.details !== details) {
    throw new Error(`expected ${code} '${details}'\n     got ${err.code} '${err.details}'`);
  }
  console.log(`  ok ${code}: ${err.details}`);
}

async function main() {
  const models = new v1.ModelService(address, credentials);
  expect(await failure(models, 'GetBaseModel', { name: AWKWARD_NAME }), grpc.status.NOT_FOUND,
    `base model '${AWKWARD_NAME}' does not exist`);
  if (imageModel) {
    const inference = new v1.InferenceService(address, credentials);
    expect(await failure(inference, 'Predict', { model: { name: imageModel }, inputs: [{ features: { values: [1, 2, 3] } }] }),
      grpc.status.INVALID_ARGUMENT,
      `input 0 has 3 features; model '${imageModel}' version 1 expects 784 (input 'input' [-1, 1, 28, 28])`);
  }
  console.log('errors: every error text arrived exactly as written');
}

main().then(() => process.exit(0)).catch((err) => {
  console.error(`errors failed: ${err.message || err}`);
  process.exit(1);
});
