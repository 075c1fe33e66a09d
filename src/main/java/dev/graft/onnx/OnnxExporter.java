package dev.graft.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a trained {@link OnnxBlock} as an opset-17 ONNX file: initializers carry the current
 * parameter values (BatchNorm running statistics included), nodes, initializers, inputs and
 * value_info that do not lead to an output are dropped, and {@code metadata_props} carry the
 * caller's provenance. The metadata key {@value #MODEL_VERSION_KEY}, when numeric, also sets the
 * model's {@code model_version}.
 */
public final class OnnxExporter {

  /** Producer name written into every exported model. */
  public static final String PRODUCER = "graft";

  /** Metadata key whose numeric value becomes {@code ModelProto.model_version}. */
  public static final String MODEL_VERSION_KEY = "model_version";

  private OnnxExporter() {}

  /**
   * Exports the block's graph with its current weights to {@code out}; returns what was written.
   */
  public static ModelProto export(OnnxBlock block, Map<String, String> metadata, Path out) {
    ModelProto model = toExportModel(block, metadata);
    write(model, out);
    return model;
  }

  /** The model {@link #export} would write, without writing it. */
  public static ModelProto toExportModel(OnnxBlock block, Map<String, String> metadata) {
    ModelProto m = block.toModelProto();
    ModelProto.Builder b =
        m.toBuilder()
            .setGraph(prune(m.getGraph()))
            .clearOpsetImport()
            .addOpsetImport(
                OperatorSetIdProto.newBuilder().setDomain("").setVersion(SupportedOps.TARGET_OPSET))
            .setIrVersion(SupportedOps.TARGET_IR_VERSION)
            .setProducerName(PRODUCER)
            .setProducerVersion(producerVersion())
            .clearMetadataProps();
    for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
      b.addMetadataProps(
          StringStringEntryProto.newBuilder().setKey(e.getKey()).setValue(e.getValue()));
    }
    String version = metadata.get(MODEL_VERSION_KEY);
    if (version != null && version.matches("\\d{1,18}")) {
      b.setModelVersion(Long.parseLong(version));
    }
    return b.build();
  }

  private static void write(ModelProto model, Path out) {
    try {
      Path dir = out.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      // Write next to the target and move, so a reader never sees half a model.
      Path tmp = Files.createTempFile(dir, out.getFileName().toString(), ".part");
      try {
        Files.write(tmp, model.toByteArray());
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new GraftException.InvalidArgument("cannot write ONNX file " + out + ": " + e, e);
    }
  }

  /** Keeps only what the outputs need, so the file has no dangling inputs or tensors. */
  static GraphProto prune(GraphProto g) {
    Set<String> needed = new HashSet<>();
    for (ValueInfoProto o : g.getOutputList()) {
      needed.add(o.getName());
    }
    boolean[] keep = new boolean[g.getNodeCount()];
    for (int i = g.getNodeCount() - 1; i >= 0; i--) {
      NodeProto n = g.getNode(i);
      boolean used = false;
      for (String o : n.getOutputList()) {
        used |= needed.contains(o);
      }
      if (used) {
        keep[i] = true;
        for (String in : n.getInputList()) {
          if (!in.isEmpty()) {
            needed.add(in);
          }
        }
      }
    }
    List<NodeProto> nodes = new ArrayList<>();
    Set<String> produced = new HashSet<>();
    for (int i = 0; i < keep.length; i++) {
      if (keep[i]) {
        nodes.add(g.getNode(i));
        produced.addAll(g.getNode(i).getOutputList());
      }
    }
    List<TensorProto> inits = new ArrayList<>();
    Set<String> initNames = new HashSet<>();
    for (TensorProto t : g.getInitializerList()) {
      if (needed.contains(t.getName())) {
        inits.add(t);
        initNames.add(t.getName());
      }
    }
    List<ValueInfoProto> inputs = new ArrayList<>();
    for (ValueInfoProto v : g.getInputList()) {
      if (needed.contains(v.getName()) && !initNames.contains(v.getName())) {
        inputs.add(v);
      }
    }
    List<ValueInfoProto> valueInfo = new ArrayList<>();
    for (ValueInfoProto v : g.getValueInfoList()) {
      if (produced.contains(v.getName())) {
        valueInfo.add(v);
      }
    }
    return g.toBuilder()
        .clearNode()
        .addAllNode(nodes)
        .clearInitializer()
        .addAllInitializer(inits)
        .clearInput()
        .addAllInput(inputs)
        .clearValueInfo()
        .addAllValueInfo(valueInfo)
        .build();
  }

  private static String producerVersion() {
    String v = OnnxExporter.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }
}
