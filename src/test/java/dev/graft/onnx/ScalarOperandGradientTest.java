package dev.graft.onnx;

import static dev.graft.onnx.TestGraphs.FLOAT;
import static dev.graft.onnx.TestGraphs.attr;
import static dev.graft.onnx.TestGraphs.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Issue 13's intermittent NaN after MiniLM fine-tuning, made deterministic. A Mul, Div or Pow by a
 * constant scalar (MiniLM's attention scaling, GELU and LayerNorm) keeps the scalar for its
 * backward pass. DJL's {@code x.mul(Number)} put that scalar in a tensor over a Java direct buffer
 * and closed it at once: a garbage collection between forward and backward freed the buffer, the
 * backward read freed memory, and the gradients (then the weights after AdamW, then the logits)
 * were NaN. Here the collection is forced and the freed memory reused on purpose; the kernels now
 * give the scalar operand libtorch-owned memory, held until the batch is done.
 */
class ScalarOperandGradientTest {

  @Test
  void gradientsThroughScalarOpsSurviveAGarbageCollectionBeforeBackward() throws Exception {
    TestGraphs g = new TestGraphs(1);
    g.input("x", FLOAT, 3)
        .init("w", new long[] {3}, new float[] {1, 2, 3})
        .node("Constant", "half", s(), s("half"), attr("value_float", 0.5f))
        .node("Constant", "two", s(), s("two"), attr("value_float", 2f))
        .node("Constant", "four", s(), s("four"), attr("value_float", 4f))
        .node("Constant", "one", s(), s("one"), attr("value_float", 1f))
        .node("Mul", "a", s("w", "x"), s("a"))
        .node("Mul", "m", s("a", "half"), s("m"))
        .node("Pow", "p", s("a", "two"), s("p"))
        .node("Div", "d", s("a", "four"), s("d"))
        .node("Sub", "r", s("one", "a"), s("r"))
        .node("Add", "s1", s("m", "p"), s("s1"))
        .node("Add", "s2", s("s1", "d"), s("s2"))
        .node("Add", "s3", s("s2", "r"), s("s3"))
        .node("ReduceSum", "y", s("s3"), s("y"), attr("keepdims", 0L))
        .output("y", FLOAT);
    ModelProto model = g.build();
    // d/dw of 0.5 w + w^2 + w / 4 + (1 - w) at x = 1: 0.5 + 2 w + 0.25 - 1.
    float[] expected = {1.75f, 3.75f, 5.75f};
    for (int trial = 0; trial < 5; trial++) {
      try (NDManager manager = NDManager.newBaseManager()) {
        OnnxBlock block = new OnnxBlock(model, n -> true);
        block.initialize(manager, DataType.FLOAT32, new Shape(3));
        try (NDManager batch = manager.newSubManager();
            GradientCollector collector = Engine.getInstance().newGradientCollector()) {
          NDList x = new NDList(batch.ones(new Shape(3)));
          var y = block.forward(new ParameterStore(batch, false), x, true).singletonOrThrow();
          List<ByteBuffer> reuse = freeAndReuseDirectMemory();
          collector.backward(y);
          float[] gradient = block.parameter("w").getArray().getGradient().toFloatArray();
          assertArrayEquals(expected, gradient, 1e-5f, "trial " + trial);
          reuse.clear();
        }
      }
    }
  }

  /**
   * Collects garbage (direct buffers no longer referenced are freed by their cleaners), then
   * allocates many small direct buffers holding NaN, so that freed small blocks are handed out
   * again with NaN in them.
   */
  private static List<ByteBuffer> freeAndReuseDirectMemory() throws InterruptedException {
    for (int k = 0; k < 3; k++) {
      System.gc();
      Thread.sleep(50);
    }
    List<ByteBuffer> buffers = new ArrayList<>();
    for (int k = 0; k < 20_000; k++) {
      ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
      b.putFloat(0, Float.NaN);
      buffers.add(b);
    }
    return buffers;
  }
}
