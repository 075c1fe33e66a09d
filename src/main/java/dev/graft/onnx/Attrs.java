package dev.graft.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.HashMap;
import java.util.Map;

/** Typed access to a node's attributes, with the spec's defaults supplied by the caller. */
final class Attrs {

  private final Map<String, AttributeProto> byName = new HashMap<>();

  Attrs(NodeProto node) {
    for (AttributeProto a : node.getAttributeList()) {
      byName.put(a.getName(), a);
    }
  }

  boolean has(String name) {
    return byName.containsKey(name);
  }

  AttributeProto get(String name) {
    return byName.get(name);
  }

  long i(String name, long def) {
    AttributeProto a = byName.get(name);
    return a == null ? def : a.getI();
  }

  float f(String name, float def) {
    AttributeProto a = byName.get(name);
    return a == null ? def : a.getF();
  }

  String s(String name, String def) {
    AttributeProto a = byName.get(name);
    return a == null ? def : a.getS().toStringUtf8();
  }

  /** The ints of an attribute, or null when absent. */
  long[] ints(String name) {
    AttributeProto a = byName.get(name);
    if (a == null) {
      return null;
    }
    long[] out = new long[a.getIntsCount()];
    for (int k = 0; k < out.length; k++) {
      out[k] = a.getInts(k);
    }
    return out;
  }
}
