// What the Node examples share: the server's own protos, loaded once per script, a unary call
// with a deadline, and a WatchRun follower that prints a run's events until it ends.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.resolve(__dirname, '../../proto');

// The loaded packages of these proto files (paths under ../../proto), e.g. load([...]).graft.v1.
function load(files) {
  const definition = protoLoader.loadSync(files, {
    includeDirs: [PROTO_ROOT], keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

// A unary call as a promise, with a deadline of `seconds`.
function call(client, method, request, seconds = 60) {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline: Date.now() + seconds * 1000 }, (err, res) => (err ? reject(err) : resolve(res))));
}

// Follows a run until it ends; prints its plan, progress, epochs and export. Resolves with the last status.
function watch(training, runId) {
  return new Promise((resolve, reject) => {
    let last = null;
    const stream = training.WatchRun({ runId });
    stream.on('data', (e) => {
      if (e.status) {
        last = e.status;
        console.log(`  run ${runId}: ${e.status.status}${e.status.message ? ` (${e.status.message})` : ''}`);
      } else if (e.plan) {
        console.log(`  plan: ${e.plan.reason}`);
      } else if (e.progress) {
        const p = e.progress;
        process.stdout.write(`  epoch ${p.epoch}/${p.epochs} batch ${p.batchesDone}/${p.batchesTotal}` +
          ` ${p.examplesPerSecond.toFixed(0)} ex/s eta ${p.etaSeconds.toFixed(0)} s loss ${p.trainLoss.toFixed(3)}\r`);
      } else if (e.epoch) {
        const v = e.epoch.values;
        console.log(`  epoch ${e.epoch.epoch}: train_loss ${(v.train_loss ?? NaN).toFixed(3)}` +
          ` val_accuracy ${(v.val_accuracy ?? NaN).toFixed(3)} val_loss ${(v.val_loss ?? NaN).toFixed(3)}` +
          (v.epoch_seconds === undefined ? '' : ` (${v.epoch_seconds.toFixed(1)} s)`));
      } else if (e.export) {
        console.log(`  exported ${e.export.modelVersion || '(not registered)'} parity ${e.export.parityMaxAbsDiff}`);
      }
    });
    stream.on('end', () => resolve(last));
    stream.on('error', reject);
  });
}

module.exports = { grpc, load, call, watch };
