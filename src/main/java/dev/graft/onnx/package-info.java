/**
 * ONNX in and out: reading and writing graphs, executing them as DJL blocks, exporting trained
 * weights with provenance, and the parity gate against ONNX Runtime.
 */
package dev.graft.onnx;
