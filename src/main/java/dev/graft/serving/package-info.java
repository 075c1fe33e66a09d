/**
 * Serving: ONNX Runtime sessions per model version, dynamic batching and execution provider
 * selection.
 */
package dev.graft.serving;
