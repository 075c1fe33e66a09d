package dev.graft.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.graft.core.Artifacts;
import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads ONNX models and makes them fit for {@link OnnxBlock}: checks the opset (11 to 17) and that
 * every operator is supported, so that an unusable model is refused here and never in the middle of
 * training, then normalises the graph to opset 17.
 */
public final class OnnxImport {

  private OnnxImport() {}

  /** Reads, validates and normalises a model file; external tensor data is read next to it. */
  public static ModelProto load(Path path) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (IOException e) {
      throw new GraftException.InvalidArgument("cannot read ONNX file " + path + ": " + e, e);
    }
    ModelProto model = parse(bytes, path.toString());
    Path dir = path.toAbsolutePath().getParent();
    return normalise(inlineExternalData(model, dir));
  }

  /** Parses, validates and normalises a model held in memory (external data is refused). */
  public static ModelProto load(byte[] bytes) {
    return load(bytes, "the given bytes");
  }

  /**
   * Parses, validates and normalises a model a client sent; external data is refused.
   *
   * @param what names the bytes in error messages as the client knows them (never a server path)
   */
  public static ModelProto load(byte[] bytes, String what) {
    return normalise(parse(bytes, what));
  }

  /**
   * Validates a model already parsed and returns it normalised: opset 17, and every trainable value
   * an initializer of its own ({@link GraphNormalizer}).
   */
  public static ModelProto normalise(ModelProto model) {
    validate(model);
    return GraphNormalizer.normalise(OpsetNormalizer.toTarget(model, defaultOpset(model)));
  }

  /** Writes a model to a file atomically and durably, creating the parent directory. */
  public static void write(ModelProto model, Path path) {
    try {
      Artifacts.writeAtomically(path, model.toByteArray());
    } catch (java.io.UncheckedIOException e) {
      throw new GraftException.InvalidArgument(
          "cannot write ONNX file " + path + ": " + e.getCause(), e);
    }
  }

  /**
   * Checks opset and operators without changing the model.
   *
   * @throws GraftException.InvalidArgument naming the opset, or the operator and node
   */
  public static void validate(ModelProto model) {
    int opset = defaultOpset(model);
    if (opset < SupportedOps.MIN_OPSET || opset > SupportedOps.MAX_OPSET) {
      throw new GraftException.InvalidArgument(
          "ONNX model imports default-domain opset "
              + opset
              + "; supported opsets are "
              + SupportedOps.MIN_OPSET
              + " to "
              + SupportedOps.MAX_OPSET
              + " (re-export it at opset 17)");
    }
    GraphProto g = model.getGraph();
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      if (!SupportedOps.isSupported(n.getDomain(), n.getOpType())) {
        String op = n.getDomain().isEmpty() ? n.getOpType() : n.getDomain() + "." + n.getOpType();
        throw new GraftException.InvalidArgument(
            "unsupported ONNX operator '"
                + op
                + "' at node '"
                + nodeName(n, i)
                + "'; supported: "
                + SupportedOps.NAMES);
      }
    }
    for (TensorProto t : g.getInitializerList()) {
      if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
        throw new GraftException.InvalidArgument(
            "initializer '"
                + t.getName()
                + "' keeps its data in an external file; send a model that holds all its"
                + " tensors (in Python: onnx.save_model(model, f, save_as_external_data=False))");
      }
      if (!OnnxTensors.isFloat(t.getDataType()) && !OnnxTensors.isInteger(t.getDataType())) {
        throw new GraftException.InvalidArgument(
            "initializer '"
                + t.getName()
                + "' has element type "
                + OnnxTensors.typeName(t.getDataType())
                + "; supported are FLOAT, DOUBLE and integer/bool types");
      }
    }
  }

  /** The default-domain opset of a model (1 when it imports none, as the spec says). */
  public static int defaultOpset(ModelProto model) {
    for (OperatorSetIdProto o : model.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        return (int) o.getVersion();
      }
    }
    return 1;
  }

  static String nodeName(NodeProto n, int index) {
    return n.getName().isEmpty() ? "#" + index + " (unnamed)" : n.getName();
  }

  private static ModelProto parse(byte[] bytes, String what) {
    try {
      ModelProto m = ModelProto.parseFrom(bytes);
      if (!m.hasGraph()) {
        throw new GraftException.InvalidArgument(what + " is not an ONNX model: it has no graph");
      }
      return m;
    } catch (InvalidProtocolBufferException e) {
      throw new GraftException.InvalidArgument(
          what + " is not an ONNX model: " + e.getMessage(), e);
    }
  }

  private static ModelProto inlineExternalData(ModelProto model, Path dir) {
    GraphProto g = model.getGraph();
    boolean any = false;
    for (TensorProto t : g.getInitializerList()) {
      any |= t.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
    }
    if (!any) {
      return model;
    }
    GraphProto.Builder gb = g.toBuilder();
    for (int i = 0; i < gb.getInitializerCount(); i++) {
      TensorProto t = gb.getInitializer(i);
      if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
        gb.setInitializer(i, readExternal(t, dir));
      }
    }
    return model.toBuilder().setGraph(gb).build();
  }

  private static TensorProto readExternal(TensorProto t, Path dir) {
    String location = null;
    long offset = 0;
    long length = -1;
    for (StringStringEntryProto e : t.getExternalDataList()) {
      switch (e.getKey()) {
        case "location":
          location = e.getValue();
          break;
        case "offset":
          offset = Long.parseLong(e.getValue());
          break;
        case "length":
          length = Long.parseLong(e.getValue());
          break;
        default:
          break;
      }
    }
    if (location == null) {
      throw new GraftException.InvalidArgument(
          "tensor '" + t.getName() + "' is external but names no 'location'");
    }
    Path file = dir.resolve(location).normalize();
    if (!file.startsWith(dir)) {
      throw new GraftException.PermissionDenied(
          "external data of tensor '"
              + t.getName()
              + "' points outside the model directory: "
              + location);
    }
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      long n = length >= 0 ? length : f.length() - offset;
      byte[] data = new byte[Math.toIntExact(n)];
      f.seek(offset);
      f.readFully(data);
      return t.toBuilder()
          .clearExternalData()
          .setDataLocation(TensorProto.DataLocation.DEFAULT)
          .setRawData(ByteString.copyFrom(data))
          .build();
    } catch (IOException e) {
      throw new GraftException.InvalidArgument(
          "cannot read external data of tensor '" + t.getName() + "' from " + file + ": " + e, e);
    }
  }
}
