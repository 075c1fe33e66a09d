/**
 * Models as ONNX graphs: built-in architectures, head replacement, freezing, and the registry of
 * base models and trained model versions with their aliases.
 *
 * <p>A model is an {@code ai.onnx.proto.OnnxMl.ModelProto} from start to end. {@link
 * dev.graft.model.GraphBuilder} writes the built-in {@link dev.graft.model.Architectures} at opset
 * 17 with PyTorch-style names and initialisation; {@link dev.graft.model.GraphSurgery} cuts a graph
 * (built-in or imported) at its feature tensor and grafts a seeded classification head named {@code
 * head.*}; {@link dev.graft.model.FreezeSpec} decides which initializers train, by blocks that
 * {@link dev.graft.model.GraphParameters} derives from names; {@link dev.graft.model.GraphChecks}
 * finds dangling or unused tensors.
 */
package dev.graft.model;
