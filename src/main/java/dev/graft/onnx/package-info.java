/**
 * ONNX in and out: reading and writing graphs, executing them as DJL blocks, exporting trained
 * weights with provenance, and the parity gate against ONNX Runtime.
 *
 * <p>{@link dev.graft.onnx.OnnxImport} reads a model, refuses opsets outside 11..17 and unsupported
 * operators (naming operator and node) and normalises the graph to opset 17 ({@code
 * OpsetNormalizer}) and to one whose every trainable value is an initializer of its own ({@code
 * GraphNormalizer}: Identity-routed initializers untied, constant subgraphs folded). {@link
 * dev.graft.onnx.OnnxBlock} executes it with DJL NDArray operations along a plan compiled once
 * (tensors are array slots; shape arithmetic runs on the host), so DJL trains it. {@link
 * dev.graft.onnx.OnnxExporter} writes the trained graph back at opset 17 with metadata, and {@link
 * dev.graft.onnx.ParityGate} checks the written file against the block with ONNX Runtime.
 */
package dev.graft.onnx;
