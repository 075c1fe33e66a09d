package dev.graft.serving;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.core.GraftException;
import dev.graft.data.Preprocessing;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.jboss.logging.Logger;

/**
 * One loaded model version: its ONNX Runtime session (owned by its {@link Batcher}'s runner
 * threads, the only threads that run it, the last of which closes it after the last queued
 * request), its signature, labels and preprocessing.
 *
 * <p>A model whose inputs are int64 {@code [batch, sequence]} tensors is a token model; one whose
 * metadata has {@link #TEXT_METADATA_KEY} is a text model as well: its tokenizer file, beside the
 * ONNX file and checked against the SHA-256 the metadata records, is loaded with the session and
 * closed after it (same owner), and raw texts are tokenised per batch on the runner thread.
 */
public final class ServedModel {

  private static final Logger LOG = Logger.getLogger(ServedModel.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The output a Graft-exported classifier names its logits. */
  public static final String LOGITS = "logits";

  /**
   * metadata_props key of a text model: JSON {@code {"tokenizer":"tokenizer.json",
   * "tokenizer_sha256":"<hex>","max_length":128,...}}.
   */
  public static final String TEXT_METADATA_KEY = "graft.text";

  private static final Set<String> TOKEN_INPUTS =
      Set.of(TextTokenizer.INPUT_IDS, TextTokenizer.ATTENTION_MASK, TextTokenizer.TOKEN_TYPE_IDS);

  private final ModelVersionInfo info;
  private final SessionFactory.OpenSession open;
  private final ModelSignature signature;
  private final List<String> labels;
  private final Optional<Preprocessing> preprocessing;
  private final ModelStats stats;
  private final TextTokenizer tokenizer;
  private final long vocabularySize;
  private final Batcher<float[]> floats;
  private final Batcher<TokenInput> tokens;
  private final Batcher<?> batcher;

  private ServedModel(
      ModelVersionInfo info,
      SessionFactory factory,
      SessionFactory.OpenSession open,
      TextTokenizer tokenizer,
      long vocabularySize,
      BatchSettings batching,
      ModelStats stats,
      java.util.concurrent.Executor completions) {
    this.info = info;
    this.open = open;
    this.stats = stats;
    this.tokenizer = tokenizer;
    this.vocabularySize = vocabularySize;
    Map<String, String> custom = customMetadata(open.session());
    this.signature = signature(info, open.session());
    if (tokenizer != null) {
      checkTextInputs(info, signature);
    }
    this.labels = labels(info, custom, signature.classes());
    String pre =
        custom.getOrDefault(
            Preprocessing.METADATA_KEY, info.metadata().get(Preprocessing.METADATA_KEY));
    this.preprocessing = pre == null ? Optional.empty() : Optional.of(Preprocessing.fromJson(pre));
    this.preprocessing.ifPresent(
        p -> {
          if (signature.tokens() || p.size() != signature.rowSize()) {
            throw new GraftException.FailedPrecondition(
                info.describe()
                    + " declares preprocessing to "
                    + p.size()
                    + " floats but its input "
                    + signature.inputShape()
                    + " takes "
                    + signature.rowSize());
          }
        });
    String name = info.modelName() + "-v" + info.version();
    if (signature.tokens()) {
      this.floats = null;
      this.tokens =
          new Batcher<>(
              name,
              new Batcher.BatchRunner<TokenInput>() {
                @Override
                public Batcher.RunResult run(List<TokenInput> inputs, int rows)
                    throws OrtException {
                  return runTokens(factory, inputs, rows);
                }

                @Override
                public boolean joins(TokenInput first, TokenInput next) {
                  return TokenInput.joins(first, next);
                }
              },
              batching,
              stats,
              this::release,
              completions);
      this.batcher = tokens;
    } else {
      this.tokens = null;
      this.floats =
          Batcher.floats(
              name,
              (input, rows) -> run(factory, input, rows),
              batching,
              stats,
              this::release,
              completions);
      this.batcher = floats;
    }
  }

  /** Opens the file and starts its batcher; FAILED_PRECONDITION when it cannot be served. */
  static ServedModel load(
      ModelVersionInfo info,
      SessionFactory factory,
      BatchSettings batching,
      ModelStats stats,
      java.util.concurrent.Executor completions) {
    SessionFactory.OpenSession open = factory.open(info.onnxPath(), info.describe());
    TextTokenizer tokenizer = null;
    try {
      Optional<TextConfig> text = textConfig(info, customMetadata(open.session()));
      long vocabulary = Long.MAX_VALUE;
      if (text.isPresent()) {
        tokenizer = loadTokenizer(info, text.get());
        vocabulary = vocabularySize(info.companionPath(text.get().tokenizer()));
      }
      ServedModel model =
          new ServedModel(info, factory, open, tokenizer, vocabulary, batching, stats, completions);
      LOG.infof(
          "Loaded %s on %s: inputs %s, output %s %s%s, batching %s",
          info.describe(),
          open.provider(),
          model.signature.inputs(),
          model.signature.outputName(),
          model.signature.outputShape(),
          tokenizer == null ? "" : ", text (max " + tokenizer.maxLength() + " tokens)",
          batching);
      return model;
    } catch (RuntimeException e) {
      open.close();
      if (tokenizer != null) {
        tokenizer.close();
      }
      throw e;
    }
  }

  /** What a text model's {@code graft.text} metadata says. */
  record TextConfig(String tokenizer, String tokenizerSha256, int maxLength) {}

  private static Optional<TextConfig> textConfig(
      ModelVersionInfo info, Map<String, String> custom) {
    String json = custom.getOrDefault(TEXT_METADATA_KEY, info.metadata().get(TEXT_METADATA_KEY));
    if (json == null) {
      return Optional.empty();
    }
    JsonNode node;
    try {
      node = JSON.readTree(json);
    } catch (IOException e) {
      node = null;
    }
    if (node == null
        || !node.isObject()
        || !node.path("tokenizer").isTextual()
        || !node.path("tokenizer_sha256").isTextual()) {
      throw new GraftException.FailedPrecondition(
          info.describe()
              + " has metadata "
              + TEXT_METADATA_KEY
              + " without \"tokenizer\" and \"tokenizer_sha256\": "
              + json);
    }
    String file = node.get("tokenizer").asText();
    if (!file.matches("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")) {
      throw new GraftException.FailedPrecondition(
          info.describe()
              + " names tokenizer '"
              + file
              + "' in "
              + TEXT_METADATA_KEY
              + "; expected a file name beside model.onnx");
    }
    int maxLength = node.path("max_length").asInt(TextTokenizer.DEFAULT_MAX_LENGTH);
    return Optional.of(
        new TextConfig(file, node.get("tokenizer_sha256").asText().toLowerCase(), maxLength));
  }

  private static TextTokenizer loadTokenizer(ModelVersionInfo info, TextConfig text) {
    Path file = info.companionPath(text.tokenizer());
    if (!Files.isRegularFile(file)) {
      throw new GraftException.FailedPrecondition(
          info.describe()
              + " is a text model but its tokenizer "
              + text.tokenizer()
              + " is missing beside its ONNX file (register it as a companion file)");
    }
    TextTokenizer tokenizer;
    try {
      tokenizer = TextTokenizer.load(file, text.maxLength());
    } catch (GraftException.InvalidArgument e) {
      throw new GraftException.FailedPrecondition(
          info.describe() + " cannot load its tokenizer: " + e.getMessage());
    }
    if (!tokenizer.sha256().equals(text.tokenizerSha256())) {
      tokenizer.close();
      throw new GraftException.FailedPrecondition(
          info.describe()
              + ": its tokenizer "
              + text.tokenizer()
              + " has sha256 "
              + tokenizer.sha256()
              + " but the model's "
              + TEXT_METADATA_KEY
              + " metadata records "
              + text.tokenizerSha256()
              + "; the model was exported with another tokenizer");
    }
    return tokenizer;
  }

  /** Ids of the tokenizer's vocabulary, added tokens included (for checking given ids). */
  private static long vocabularySize(Path tokenizerJson) {
    try {
      JsonNode root = JSON.readTree(tokenizerJson.toFile());
      long size = root.path("model").path("vocab").size();
      for (JsonNode added : root.path("added_tokens")) {
        size = Math.max(size, added.path("id").asLong(-1) + 1);
      }
      return size > 0 ? size : Long.MAX_VALUE;
    } catch (IOException e) {
      return Long.MAX_VALUE;
    }
  }

  private static void checkTextInputs(ModelVersionInfo info, ModelSignature signature) {
    List<String> names = signature.inputNames();
    if (!signature.tokens()
        || !names.contains(TextTokenizer.INPUT_IDS)
        || !TOKEN_INPUTS.containsAll(names)) {
      throw new GraftException.FailedPrecondition(
          info.describe()
              + " is a text model ("
              + TEXT_METADATA_KEY
              + ") but has inputs "
              + signature.inputs()
              + "; a text model takes int64 "
              + TextTokenizer.INPUT_IDS
              + " and optionally "
              + TextTokenizer.ATTENTION_MASK
              + " and "
              + TextTokenizer.TOKEN_TYPE_IDS);
    }
  }

  public ModelVersionInfo info() {
    return info;
  }

  public ModelSignature signature() {
    return signature;
  }

  public List<String> labels() {
    return labels;
  }

  public Optional<Preprocessing> preprocessing() {
    return preprocessing;
  }

  public ExecutionProvider provider() {
    return open.provider();
  }

  /** Whether this is a text model (tokenizer loaded): it takes raw texts. */
  public boolean isText() {
    return tokenizer != null;
  }

  /** Tokens per text at most (text models only). */
  public int maxTextTokens() {
    return tokenizer == null ? 0 : tokenizer.maxLength();
  }

  /** Token ids must be below this (the tokenizer's vocabulary; unbounded without one). */
  long vocabularySize() {
    return vocabularySize;
  }

  public ModelStats stats() {
    return stats;
  }

  public BatchSettings batching() {
    return batcher.settings();
  }

  /** Queues examples (rows × rowSize floats); null when this model was unloaded meanwhile. */
  CompletableFuture<float[]> submit(float[] data, int rows) {
    return floats.submit(data, rows);
  }

  /** Queues texts or token tensors of a token model; null when unloaded meanwhile. */
  CompletableFuture<float[]> submit(TokenInput input) {
    return tokens.submit(input, input.rows());
  }

  /** Stops taking requests; the session closes once the queued ones are answered. */
  void retire() {
    batcher.close();
  }

  boolean retired() {
    return batcher.isClosed();
  }

  /** Whether the session is closed (the batcher answered its last request). */
  boolean released() {
    return batcher.isClosed() && batcher.exited();
  }

  boolean awaitReleased(long millis) throws InterruptedException {
    return batcher.awaitExit(millis);
  }

  private void release() {
    open.close();
    if (tokenizer != null) {
      tokenizer.close();
    }
    LOG.infof("Unloaded %s", info.describe());
  }

  /**
   * One run of a token model: texts of the whole batch are tokenised at once and padded to the
   * batch's longest (so a batch of short sentences stays short); tensors are concatenated as given.
   */
  private Batcher.RunResult runTokens(SessionFactory factory, List<TokenInput> items, int rows)
      throws OrtException {
    long t0 = System.nanoTime();
    List<String> names = signature.inputNames();
    Map<String, long[]> arrays = new LinkedHashMap<>();
    int length;
    if (items.get(0).isText()) {
      List<String> texts;
      if (items.size() == 1) {
        texts = items.get(0).texts();
      } else {
        texts = new ArrayList<>(rows);
        for (TokenInput item : items) {
          texts.addAll(item.texts());
        }
      }
      TokenBatch batch = tokenizer.encode(texts);
      length = batch.length();
      for (String name : names) {
        arrays.put(name, batch.input(name));
      }
      int at = 0;
      for (TokenInput item : items) {
        System.arraycopy(batch.truncated(), at, item.truncated(), 0, item.rows());
        at += item.rows();
      }
    } else {
      length = items.get(0).length();
      for (String name : names) {
        if (items.size() == 1) {
          arrays.put(name, items.get(0).tensors().get(name));
        } else {
          long[] all = new long[rows * length];
          int at = 0;
          for (TokenInput item : items) {
            long[] part = item.tensors().get(name);
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
          }
          arrays.put(name, all);
        }
      }
    }
    long[] shape = {rows, length};
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try {
      for (String name : names) {
        feeds.put(
            name,
            OnnxTensor.createTensor(
                factory.environment(), LongBuffer.wrap(arrays.get(name)), shape));
      }
      long t1 = System.nanoTime();
      try (OrtSession.Result result = open.session().run(feeds, Set.of(signature.outputName()))) {
        long t2 = System.nanoTime();
        FloatBuffer out = ((OnnxTensor) result.get(0)).getFloatBuffer();
        float[] values = new float[out.remaining()];
        out.get(values);
        return new Batcher.RunResult(values, t1 - t0, t2 - t1, System.nanoTime() - t2);
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  private Batcher.RunResult run(SessionFactory factory, float[] input, int rows)
      throws OrtException {
    long t0 = System.nanoTime();
    long[] shape = new long[signature.inputShape().size()];
    shape[0] = rows;
    for (int i = 1; i < shape.length; i++) {
      shape[i] = signature.inputShape().get(i);
    }
    try (OnnxTensor tensor =
        OnnxTensor.createTensor(factory.environment(), FloatBuffer.wrap(input), shape)) {
      long t1 = System.nanoTime();
      try (OrtSession.Result result =
          open.session()
              .run(Map.of(signature.inputName(), tensor), Set.of(signature.outputName()))) {
        long t2 = System.nanoTime();
        FloatBuffer out = ((OnnxTensor) result.get(0)).getFloatBuffer();
        float[] values = new float[out.remaining()];
        out.get(values);
        return new Batcher.RunResult(values, t1 - t0, t2 - t1, System.nanoTime() - t2);
      }
    }
  }

  private static ModelSignature signature(ModelVersionInfo info, OrtSession session) {
    try {
      Map<String, NodeInfo> inputs = session.getInputInfo();
      List<ModelSignature.Input> specs = new ArrayList<>();
      boolean allFloat = true;
      boolean allTokens = true;
      for (NodeInfo input : inputs.values()) {
        TensorInfo t = input.getInfo() instanceof TensorInfo ti ? ti : null;
        allFloat &= t != null && t.type == OnnxJavaType.FLOAT;
        allTokens &= t != null && t.type == OnnxJavaType.INT64 && t.getShape().length == 2;
      }
      if (allTokens && !inputs.isEmpty()) {
        for (NodeInfo input : inputs.values()) {
          List<Long> shape = shapeOf((TensorInfo) input.getInfo());
          shape.set(0, -1L);
          specs.add(
              new ModelSignature.Input(input.getName(), ModelSignature.DataType.INT64, shape));
        }
      } else if (inputs.size() != 1 || !allFloat) {
        throw new GraftException.FailedPrecondition(
            info.describe()
                + " has inputs "
                + describe(inputs)
                + "; Graft serves models with one float32 input or with int64 [batch, sequence]"
                + " token inputs");
      } else {
        NodeInfo input = inputs.values().iterator().next();
        List<Long> inShape = floatShape(info, "input", input);
        for (int i = 1; i < inShape.size(); i++) {
          if (inShape.get(i) <= 0) {
            throw new GraftException.FailedPrecondition(
                info.describe()
                    + " input '"
                    + input.getName()
                    + "' has shape "
                    + inShape
                    + "; only the first (batch) dimension may be dynamic");
          }
        }
        specs.add(
            new ModelSignature.Input(input.getName(), ModelSignature.DataType.FLOAT, inShape));
      }
      Map<String, NodeInfo> outputs = session.getOutputInfo();
      NodeInfo output =
          outputs.containsKey(LOGITS) ? outputs.get(LOGITS) : outputs.values().iterator().next();
      List<Long> outShape = floatShape(info, "output", output);
      if (outShape.size() != 2 || outShape.get(1) <= 0) {
        throw new GraftException.FailedPrecondition(
            info.describe()
                + " output '"
                + output.getName()
                + "' has shape "
                + outShape
                + "; expected [N, classes]");
      }
      return new ModelSignature(specs, output.getName(), outShape);
    } catch (OrtException e) {
      throw new GraftException.FailedPrecondition(
          info.describe() + " cannot be inspected: " + e.getMessage());
    }
  }

  private static String describe(Map<String, NodeInfo> nodes) {
    List<String> parts = new ArrayList<>();
    nodes.forEach(
        (name, node) ->
            parts.add(
                name
                    + " "
                    + (node.getInfo() instanceof TensorInfo t
                        ? t.type + java.util.Arrays.toString(t.getShape())
                        : node.getInfo().toString())));
    return parts.toString();
  }

  private static List<Long> shapeOf(TensorInfo t) {
    List<Long> shape = new ArrayList<>();
    for (long d : t.getShape()) {
      shape.add(d);
    }
    return shape;
  }

  private static List<Long> floatShape(ModelVersionInfo info, String what, NodeInfo node) {
    if (!(node.getInfo() instanceof TensorInfo t) || t.type != OnnxJavaType.FLOAT) {
      throw new GraftException.FailedPrecondition(
          info.describe()
              + " "
              + what
              + " '"
              + node.getName()
              + "' is "
              + node.getInfo()
              + "; Graft serves float32 tensors");
    }
    List<Long> shape = new ArrayList<>();
    for (long d : t.getShape()) {
      shape.add(d);
    }
    if (shape.isEmpty()) {
      throw new GraftException.FailedPrecondition(
          info.describe() + " " + what + " '" + node.getName() + "' is a scalar");
    }
    shape.set(0, -1L);
    return shape;
  }

  private static Map<String, String> customMetadata(OrtSession session) {
    try {
      return session.getMetadata().getCustomMetadata();
    } catch (OrtException e) {
      return Map.of();
    }
  }

  private static List<String> labels(
      ModelVersionInfo info, Map<String, String> custom, int classes) {
    List<String> labels = info.labels();
    if (labels.isEmpty() && custom.containsKey(ModelVersions.LABELS_METADATA_KEY)) {
      try {
        labels =
            JSON.readValue(
                custom.get(ModelVersions.LABELS_METADATA_KEY),
                new TypeReference<List<String>>() {});
      } catch (Exception e) {
        LOG.warnf(
            "%s: metadata %s is not a JSON array of strings",
            info.describe(), ModelVersions.LABELS_METADATA_KEY);
      }
    }
    if (labels.size() != classes) {
      if (!labels.isEmpty()) {
        LOG.warnf(
            "%s has %d labels for %d classes; using class indices",
            info.describe(), labels.size(), classes);
      }
      List<String> indices = new ArrayList<>();
      for (int i = 0; i < classes; i++) {
        indices.add(Integer.toString(i));
      }
      return List.copyOf(indices);
    }
    return List.copyOf(labels);
  }
}
