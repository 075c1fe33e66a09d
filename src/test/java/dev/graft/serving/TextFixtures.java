package dev.graft.serving;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.graft.core.Artifacts;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.model.NewModelVersion;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.eclipse.microprofile.config.ConfigProvider;

/**
 * A small text classifier shaped like a Graft text export: int64 {@code input_ids}, {@code
 * attention_mask}, {@code token_type_ids} [batch, sequence] → word and segment embeddings (MiniLM's
 * vocabulary, 30522 × 8) → mean pooling over the attention mask → Gemm → {@code logits} [batch, 3],
 * with {@code graft.labels} and {@code graft.text} metadata and MiniLM's own tokenizer.json.
 */
public final class TextFixtures {

  public static final int VOCABULARY = 30522;
  public static final int WIDTH = 8;
  public static final List<String> LABELS = List.of("negative", "neutral", "positive");

  private TextFixtures() {}

  private static Path dataDir() {
    return Path.of(ConfigProvider.getConfig().getValue("graft.storage.dir", String.class));
  }

  /** MiniLM's tokenizer.json, copied out of the classpath once. */
  public static synchronized Path tokenizerFile() {
    Path file = dataDir().resolve("fixtures").resolve("minilm-tokenizer.json");
    if (!Files.exists(file)) {
      try (InputStream in =
          TextFixtures.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
        Files.createDirectories(file.getParent());
        Files.copy(in, file);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return file;
  }

  /** The graft.text metadata value for a tokenizer of that hash. */
  public static String textMetadata(String sha256, int maxLength) {
    return "{\"tokenizer\":\"tokenizer.json\",\"tokenizer_sha256\":\""
        + sha256
        + "\",\"max_length\":"
        + maxLength
        + ",\"pooling\":\"mean\",\"normalize\":false}";
  }

  /**
   * Registers the text model under the name (alias latest) with tokenizer.json as its companion.
   * {@code recordedSha256} null records the tokenizer's true hash; {@code text} false leaves
   * graft.text out (a token model without tokenizer). Extra metadata overrides batching etc.
   */
  public static ModelVersionInfo register(
      ModelVersions versions,
      String name,
      long seed,
      boolean text,
      String recordedSha256,
      Map<String, String> extra) {
    Path tokenizer = tokenizerFile();
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put(ModelVersions.LABELS_METADATA_KEY, "[\"negative\",\"neutral\",\"positive\"]");
    if (text) {
      metadata.put(
          ServedModel.TEXT_METADATA_KEY,
          textMetadata(
              recordedSha256 == null ? Artifacts.sha256(tokenizer) : recordedSha256,
              TextTokenizer.DEFAULT_MAX_LENGTH));
    }
    metadata.putAll(extra);
    Path file =
        write(
            dataDir().resolve("fixtures").resolve(ServingFixtures.unique(name) + ".onnx"),
            seed,
            metadata);
    return versions.register(
        new NewModelVersion(
            name,
            file,
            LABELS,
            Map.of(
                "kind",
                "TEXT",
                "inputs",
                List.of(
                    TextTokenizer.INPUT_IDS,
                    TextTokenizer.ATTENTION_MASK,
                    TextTokenizer.TOKEN_TYPE_IDS)),
            0,
            new HashMap<>(metadata),
            null,
            null,
            Map.of(TextTokenizer.FILE_NAME, tokenizer)));
  }

  /** Writes the graph; embeddings are seeded random numbers. */
  public static Path write(Path file, long seed, Map<String, String> metadata) {
    Random random = new Random(seed);
    GraphProto.Builder g = GraphProto.newBuilder().setName("text-classifier");
    for (String input :
        List.of(
            TextTokenizer.INPUT_IDS, TextTokenizer.ATTENTION_MASK, TextTokenizer.TOKEN_TYPE_IDS)) {
      g.addInput(value(input, TensorProto.DataType.INT64, "batch", "sequence"));
    }
    g.addInitializer(floats("word_embeddings", random, VOCABULARY, WIDTH));
    g.addInitializer(floats("type_embeddings", random, 2, WIDTH));
    g.addInitializer(floats("fc.weight", random, LABELS.size(), WIDTH));
    g.addInitializer(floats("fc.bias", random, LABELS.size()));
    g.addInitializer(longs("axis1", 1));
    g.addInitializer(longs("axis2", 2));
    g.addInitializer(
        TensorProto.newBuilder()
            .setName("eps")
            .setDataType(TensorProto.DataType.FLOAT.getNumber())
            .addFloatData(1e-9f));
    g.addNode(node("Gather", List.of("word_embeddings", TextTokenizer.INPUT_IDS), "words"));
    g.addNode(node("Gather", List.of("type_embeddings", TextTokenizer.TOKEN_TYPE_IDS), "types"));
    g.addNode(node("Add", List.of("words", "types"), "hidden"));
    g.addNode(
        node("Cast", List.of(TextTokenizer.ATTENTION_MASK), "mask")
            .addAttribute(
                AttributeProto.newBuilder()
                    .setName("to")
                    .setType(AttributeProto.AttributeType.INT)
                    .setI(TensorProto.DataType.FLOAT.getNumber())));
    g.addNode(node("Unsqueeze", List.of("mask", "axis2"), "mask3"));
    g.addNode(node("Mul", List.of("hidden", "mask3"), "masked"));
    g.addNode(node("ReduceSum", List.of("masked", "axis1"), "summed").addAttribute(keepdims(0)));
    g.addNode(node("ReduceSum", List.of("mask", "axis1"), "count").addAttribute(keepdims(1)));
    g.addNode(node("Max", List.of("count", "eps"), "safe_count"));
    g.addNode(node("Div", List.of("summed", "safe_count"), "pooled"));
    g.addNode(
        node("Gemm", List.of("pooled", "fc.weight", "fc.bias"), ServedModel.LOGITS)
            .addAttribute(
                AttributeProto.newBuilder()
                    .setName("transB")
                    .setType(AttributeProto.AttributeType.INT)
                    .setI(1)));
    g.addOutput(value(ServedModel.LOGITS, TensorProto.DataType.FLOAT, "batch", null));
    ModelProto.Builder model =
        ModelProto.newBuilder()
            .setIrVersion(8)
            .setProducerName("graft-test")
            .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
            .setGraph(g);
    metadata.forEach(
        (k, v) ->
            model.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.write(file, model.build().toByteArray());
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Logits of ONNX Runtime run directly on the file with the batch's tensors. */
  public static float[] ortLogits(Path onnx, TokenBatch batch) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    long[] shape = {batch.batch(), batch.length()};
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(onnx.toString(), options);
        OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(batch.inputIds()), shape);
        OnnxTensor mask =
            OnnxTensor.createTensor(env, LongBuffer.wrap(batch.attentionMask()), shape);
        OnnxTensor types =
            OnnxTensor.createTensor(env, LongBuffer.wrap(batch.tokenTypeIds()), shape);
        OrtSession.Result r =
            session.run(
                Map.of(
                    TextTokenizer.INPUT_IDS,
                    ids,
                    TextTokenizer.ATTENTION_MASK,
                    mask,
                    TextTokenizer.TOKEN_TYPE_IDS,
                    types))) {
      FloatBuffer out = ((OnnxTensor) r.get(0)).getFloatBuffer();
      float[] v = new float[out.remaining()];
      out.get(v);
      return v;
    }
  }

  private static AttributeProto keepdims(int value) {
    return AttributeProto.newBuilder()
        .setName("keepdims")
        .setType(AttributeProto.AttributeType.INT)
        .setI(value)
        .build();
  }

  private static NodeProto.Builder node(String op, List<String> inputs, String output) {
    return NodeProto.newBuilder()
        .setName(output)
        .setOpType(op)
        .addAllInput(inputs)
        .addOutput(output);
  }

  private static TensorProto floats(String name, Random random, int... dims) {
    TensorProto.Builder t =
        TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT.getNumber());
    int size = 1;
    for (int d : dims) {
      t.addDims(d);
      size *= d;
    }
    ByteBuffer bytes = ByteBuffer.allocate(size * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < size; i++) {
      bytes.putFloat((float) random.nextGaussian());
    }
    bytes.flip();
    return t.setRawData(ByteString.copyFrom(bytes)).build();
  }

  private static TensorProto longs(String name, long... values) {
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setName(name)
            .setDataType(TensorProto.DataType.INT64.getNumber())
            .addDims(values.length);
    for (long v : values) {
      t.addInt64Data(v);
    }
    return t.build();
  }

  private static ValueInfoProto value(String name, TensorProto.DataType type, String... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (String d : dims) {
      shape.addDim(
          d == null
              ? TensorShapeProto.Dimension.newBuilder().setDimValue(LABELS.size())
              : TensorShapeProto.Dimension.newBuilder().setDimParam(d));
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(
            TypeProto.newBuilder()
                .setTensorType(
                    TypeProto.Tensor.newBuilder().setElemType(type.getNumber()).setShape(shape)))
        .build();
  }
}
