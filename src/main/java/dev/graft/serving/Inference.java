package dev.graft.serving;

import dev.graft.core.GraftException;
import dev.graft.data.Pixels;
import dev.graft.model.ModelRef;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Predictions and raw tensor inference on served models. The caller's thread resolves and loads the
 * model and prepares the input (decoding images); the dynamic batcher runs it; the returned future
 * completes on the batcher's runner thread or, when more requests wait for the model, on a worker.
 *
 * <p>The {@code ...Async} variants are for callers on an event loop: when the model is loaded and
 * its reference resolved recently (the steady state) and there are no images to decode, they queue
 * the request right there, because a hop to a worker thread costs more than the little left to do;
 * otherwise (registry lookup, loading a file, decoding) they do the preparation on a worker.
 */
@ApplicationScoped
public class Inference {

  /** Default of {@link ServingConfig#maxTextChars()}. */
  public static final int DEFAULT_MAX_TEXT_CHARS = 10_000;

  /** The KServe input name of a text model's raw texts (BYTES, shape [N]). */
  public static final String TEXT_INPUT = "text";

  private final ModelRegistry registry;
  private final int maxRequestInputs;
  private final PixelBudget pixels;
  private final Executor executor;
  private final int maxTextChars;

  @Inject
  Inference(ModelRegistry registry, ServingConfig config) {
    this(
        registry,
        config.maxRequestInputs(),
        new PixelBudget(config.maxImagePixels(), config.maxDecodingPixels()),
        Infrastructure.getDefaultWorkerPool(),
        config.maxTextChars());
  }

  public Inference(ModelRegistry registry, int maxRequestInputs, Executor executor) {
    this(registry, maxRequestInputs, new PixelBudget(1L << 24, 1L << 26), executor);
  }

  public Inference(
      ModelRegistry registry, int maxRequestInputs, PixelBudget pixels, Executor executor) {
    this(registry, maxRequestInputs, pixels, executor, DEFAULT_MAX_TEXT_CHARS);
  }

  public Inference(
      ModelRegistry registry,
      int maxRequestInputs,
      PixelBudget pixels,
      Executor executor,
      int maxTextChars) {
    this.registry = registry;
    this.maxRequestInputs = maxRequestInputs;
    this.pixels = pixels;
    this.executor = executor;
    this.maxTextChars = maxTextChars;
  }

  /** The loaded model a reference means (for metadata). */
  public ServedModel model(ModelRef ref) {
    return registry.model(ref);
  }

  public ModelRegistry registry() {
    return registry;
  }

  /** Classifies the inputs; {@code topK} 0 returns every class. */
  public CompletableFuture<PredictionResult> predict(
      ModelRef ref, List<InferenceInput> inputs, int topK) {
    return predict(ref, null, inputs, topK);
  }

  public CompletableFuture<PredictionResult> predictAsync(
      ModelRef ref, List<InferenceInput> inputs, int topK) {
    ServedModel known = registry.loadedNow(ref);
    if (known != null && !hasImage(inputs)) {
      try {
        return predict(ref, known, inputs, topK);
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return CompletableFuture.supplyAsync(() -> predict(ref, inputs, topK), executor)
        .thenCompose(Function.identity());
  }

  private CompletableFuture<PredictionResult> predict(
      ModelRef ref, ServedModel known, List<InferenceInput> inputs, int topK) {
    checkCount(inputs.size());
    if (topK < 0) {
      throw new GraftException.InvalidArgument("top_k must be >= 0 (0 = all classes), got " + topK);
    }
    return run(
        ref,
        known,
        model ->
            model.signature().tokens()
                ? ModelRegistry.queue(model, texts(model, inputs))
                : ModelRegistry.queue(model, prepare(model, inputs), inputs.size()),
        inputs.size(),
        answer -> toPrediction(answer, inputs.size(), topK));
  }

  /** A text model's texts; INVALID_ARGUMENT for any other kind of input or an unusable text. */
  private TokenInput texts(ServedModel model, List<InferenceInput> inputs) {
    if (!model.isText()) {
      throw new GraftException.InvalidArgument(
          model.info().describe()
              + " takes int64 token tensors "
              + model.signature().inputNames()
              + " and has no tokenizer (no "
              + ServedModel.TEXT_METADATA_KEY
              + " metadata); send the tensors with KServe ModelInfer");
    }
    List<String> texts = new ArrayList<>(inputs.size());
    for (int i = 0; i < inputs.size(); i++) {
      InferenceInput in = inputs.get(i);
      if (!in.isText()) {
        throw new GraftException.InvalidArgument(
            "input "
                + i
                + " is "
                + in.kind()
                + "; "
                + model.info().describe()
                + " is a text model and takes text");
      }
      texts.add(checkText(in.text(), "input " + i));
    }
    return TokenInput.texts(texts);
  }

  private String checkText(String text, String what) {
    if (text.isBlank()) {
      throw new GraftException.InvalidArgument(what + " is an empty text; send some words");
    }
    if (text.length() > maxTextChars) {
      throw new GraftException.InvalidArgument(
          what
              + " has "
              + text.length()
              + " characters, more than "
              + maxTextChars
              + " (graft.serving.max-text-chars); send a shorter text");
    }
    return text;
  }

  private static boolean hasImage(List<InferenceInput> inputs) {
    for (InferenceInput in : inputs) {
      if (in.isImage()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Runs a float32 tensor {@code [N, ...]} named {@code inputName} through the model and returns
   * its output tensor; INVALID_ARGUMENT naming the expected name or shape when they differ.
   */
  public CompletableFuture<TensorResult> infer(
      ModelRef ref, String inputName, List<Long> shape, float[] data) {
    return infer(ref, null, new TensorRequest(inputName, shape, () -> data, List.of()));
  }

  /**
   * One input tensor of a request, decoded lazily into what the chosen model takes: floats for a
   * float model, int64 values for a token model, strings for a text model's {@value #TEXT_INPUT}
   * input. A decoder the request cannot supply throws INVALID_ARGUMENT saying what is expected.
   *
   * @param datatype the KServe datatype as sent (FP32, INT64, BYTES, ...)
   */
  public record TensorInput(
      String name,
      String datatype,
      List<Long> shape,
      java.util.function.Supplier<float[]> floats,
      java.util.function.Supplier<long[]> longs,
      java.util.function.Supplier<List<String>> strings) {

    public TensorInput {
      shape = List.copyOf(shape);
    }
  }

  /**
   * Tensors to run: the data is decoded only once the model is chosen and the names and shapes
   * checked, and the requested outputs are checked before the model runs, so that whatever is wrong
   * with a request is refused before computing and counted as a failure of that model.
   *
   * @param requestedOutputs output names the caller asks for (empty = all)
   */
  public record TensorRequest(List<TensorInput> inputs, List<String> requestedOutputs) {

    public TensorRequest {
      inputs = List.copyOf(inputs);
      requestedOutputs = List.copyOf(requestedOutputs);
    }

    /** One float32 tensor. */
    public TensorRequest(
        String inputName,
        List<Long> shape,
        java.util.function.Supplier<float[]> data,
        List<String> requestedOutputs) {
      this(List.of(new TensorInput(inputName, "FP32", shape, data, null, null)), requestedOutputs);
    }
  }

  private CompletableFuture<TensorResult> infer(ModelRef ref, ServedModel known, TensorRequest t) {
    if (t.inputs().isEmpty()) {
      throw new GraftException.InvalidArgument("a request needs at least one input tensor");
    }
    for (TensorInput in : t.inputs()) {
      List<Long> shape = in.shape();
      if (shape.isEmpty() || shape.get(0) < 1) {
        throw new GraftException.InvalidArgument(
            "input '" + in.name() + "' has shape " + shape + "; the first dimension is the batch");
      }
    }
    int rows = Math.toIntExact(t.inputs().get(0).shape().get(0));
    checkCount(rows);
    return run(
        ref,
        known,
        model -> {
          checkOutputs(model, t.requestedOutputs());
          if (model.signature().tokens()) {
            return ModelRegistry.queue(model, tokens(model, t.inputs()));
          }
          TensorInput in = single(model, t.inputs());
          checkTensor(model, in.name(), in.shape(), null);
          return ModelRegistry.queue(
              model, checkTensor(model, in.name(), in.shape(), in.floats().get()), rows);
        },
        rows,
        answer ->
            new TensorResult(
                answer.model().info(),
                answer.model().provider(),
                answer.model().signature().outputName(),
                List.of((long) rows, (long) (answer.output().length / rows)),
                answer.output()));
  }

  private static TensorInput single(ServedModel model, List<TensorInput> inputs) {
    if (inputs.size() != 1) {
      throw new GraftException.InvalidArgument(
          model.info().describe()
              + " takes one input tensor '"
              + model.signature().inputName()
              + "', got "
              + inputs.size()
              + " "
              + inputs.stream().map(TensorInput::name).toList());
    }
    return inputs.get(0);
  }

  /**
   * A token model's tensors, or a text model's {@value #TEXT_INPUT} strings: names, types and
   * shapes checked against the session's inputs, all inputs of the same [batch, sequence].
   */
  private TokenInput tokens(ServedModel model, List<TensorInput> inputs) {
    ModelSignature sig = model.signature();
    if (model.isText() && inputs.size() == 1 && inputs.get(0).name().equals(TEXT_INPUT)) {
      TensorInput in = inputs.get(0);
      if (!"BYTES".equals(in.datatype()) || in.shape().size() != 1) {
        throw new GraftException.InvalidArgument(
            "input '"
                + TEXT_INPUT
                + "' is "
                + in.datatype()
                + " "
                + in.shape()
                + "; "
                + model.info().describe()
                + " takes its texts as BYTES of shape [N] (UTF-8 strings)");
      }
      List<String> texts = in.strings().get();
      if (texts.size() != in.shape().get(0)) {
        throw new GraftException.InvalidArgument(
            "input '"
                + TEXT_INPUT
                + "' of shape "
                + in.shape()
                + " needs "
                + in.shape().get(0)
                + " strings, got "
                + texts.size());
      }
      for (int i = 0; i < texts.size(); i++) {
        checkText(texts.get(i), "text " + i);
      }
      return TokenInput.texts(texts);
    }
    List<String> names = sig.inputNames();
    java.util.Map<String, TensorInput> byName = new java.util.LinkedHashMap<>();
    for (TensorInput in : inputs) {
      if (!names.contains(in.name())) {
        throw new GraftException.InvalidArgument(
            "unknown input '"
                + in.name()
                + "'; "
                + model.info().describe()
                + " expects the int64 inputs "
                + names
                + (model.isText() ? ", or one BYTES input '" + TEXT_INPUT + "' of raw texts" : ""));
      }
      if (byName.put(in.name(), in) != null) {
        throw new GraftException.InvalidArgument("input '" + in.name() + "' is given twice");
      }
    }
    for (String name : names) {
      if (!byName.containsKey(name)) {
        throw new GraftException.InvalidArgument(
            "input '"
                + name
                + "' is missing; "
                + model.info().describe()
                + " expects the int64 inputs "
                + names);
      }
    }
    TensorInput first = byName.get(names.get(0));
    List<Long> shape = first.shape();
    for (ModelSignature.Input spec : sig.inputs()) {
      TensorInput in = byName.get(spec.name());
      if (!"INT64".equals(in.datatype())) {
        throw new GraftException.InvalidArgument(
            "input '"
                + in.name()
                + "' has datatype '"
                + in.datatype()
                + "'; "
                + model.info().describe()
                + " takes INT64 token tensors");
      }
      boolean ok = in.shape().size() == 2 && in.shape().get(1) >= 1;
      for (int d = 1; ok && d < 2; d++) {
        long declared = spec.shape().get(d);
        ok = declared < 0 || declared == in.shape().get(d);
      }
      if (!ok) {
        throw new GraftException.InvalidArgument(
            "input '"
                + in.name()
                + "' has shape "
                + in.shape()
                + "; "
                + model.info().describe()
                + " expects "
                + spec.shape()
                + " ([batch, sequence], -1 = any length >= 1)");
      }
      if (!in.shape().equals(shape)) {
        throw new GraftException.InvalidArgument(
            "input '"
                + in.name()
                + "' has shape "
                + in.shape()
                + " but '"
                + first.name()
                + "' has "
                + shape
                + "; every input needs the same [batch, sequence]");
      }
    }
    int rows = Math.toIntExact(shape.get(0));
    int length = Math.toIntExact(shape.get(1));
    java.util.Map<String, long[]> tensors = new java.util.LinkedHashMap<>();
    for (String name : names) {
      long[] values = byName.get(name).longs().get();
      if (values.length != (long) rows * length) {
        throw new GraftException.InvalidArgument(
            "input '"
                + name
                + "' of shape "
                + shape
                + " needs "
                + (long) rows * length
                + " values, got "
                + values.length);
      }
      long bound = name.equals(dev.graft.text.TextTokenizer.INPUT_IDS) ? model.vocabularySize() : 0;
      for (int i = 0; i < values.length; i++) {
        if (values[i] < 0 || (bound > 0 && values[i] >= bound)) {
          throw new GraftException.InvalidArgument(
              "input '"
                  + name
                  + "' has "
                  + values[i]
                  + " at value "
                  + i
                  + (bound > 0 && bound < Long.MAX_VALUE
                      ? "; token ids must be 0-" + (bound - 1) + " (the tokenizer's vocabulary)"
                      : "; token tensors must not be negative"));
        }
      }
      tensors.put(name, values);
    }
    return TokenInput.tensors(tensors, rows, length);
  }

  public CompletableFuture<TensorResult> inferAsync(
      ModelRef ref, String inputName, List<Long> shape, float[] data) {
    return inferAsync(ref, new TensorRequest(inputName, shape, () -> data, List.of()));
  }

  public CompletableFuture<TensorResult> inferAsync(ModelRef ref, TensorRequest request) {
    ServedModel known = registry.loadedNow(ref);
    if (known != null) {
      try {
        return infer(ref, known, request);
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    return CompletableFuture.supplyAsync(() -> infer(ref, null, request), executor)
        .thenCompose(Function.identity());
  }

  private static void checkOutputs(ServedModel model, List<String> requested) {
    String output = model.signature().outputName();
    for (String wanted : requested) {
      if (!wanted.equals(output)) {
        throw new GraftException.InvalidArgument(
            "unknown output '"
                + wanted
                + "'; "
                + model.info().describe()
                + " has one output named '"
                + output
                + "'");
      }
    }
  }

  private <T> CompletableFuture<T> run(
      ModelRef ref,
      ServedModel known,
      Function<ServedModel, CompletableFuture<ModelRegistry.Answer>> queue,
      int rows,
      Function<ModelRegistry.Answer, T> finish) {
    long start = System.nanoTime();
    ServedModel[] used = new ServedModel[1];
    CompletableFuture<ModelRegistry.Answer> answer;
    try {
      answer =
          registry.submit(
              ref,
              known,
              model -> {
                used[0] = model;
                return queue.apply(model);
              });
    } catch (RuntimeException e) {
      if (used[0] != null) {
        used[0].stats().requestFailed(System.nanoTime() - start);
      }
      throw e;
    }
    return answer.handle(
        (a, failure) -> {
          if (failure != null) {
            used[0].stats().requestFailed(System.nanoTime() - start);
            throw failure instanceof CompletionException c ? c : new CompletionException(failure);
          }
          a.model().stats().requestSucceeded(rows, System.nanoTime() - start);
          return finish.apply(a);
        });
  }

  private void checkCount(int n) {
    if (n < 1) {
      throw new GraftException.InvalidArgument("a request needs at least one input");
    }
    if (n > maxRequestInputs) {
      throw new GraftException.ResourceExhausted(
          "a request may carry at most "
              + maxRequestInputs
              + " inputs (graft.serving.max-request-inputs), got "
              + n
              + "; split it");
    }
  }

  private float[] prepare(ServedModel model, List<InferenceInput> inputs) {
    if (model.preprocessing().isEmpty() || !hasImage(inputs)) {
      return prepareRows(model, inputs);
    }
    long total = 0;
    for (int i = 0; i < inputs.size(); i++) {
      if (inputs.get(i).isImage()) {
        String what = "input " + i;
        Pixels.Size size = Pixels.size(inputs.get(i).image(), what);
        pixels.checkImage(what, size.height(), size.width());
        total += size.pixels();
      }
    }
    try (PixelBudget.Lease lease = pixels.acquire(total)) {
      return prepareRows(model, inputs);
    }
  }

  private static float[] prepareRows(ServedModel model, List<InferenceInput> inputs) {
    int rowSize = model.signature().rowSize();
    // One input (the common case) is run as it is: its array is ours alone, no need to copy it.
    float[] data = inputs.size() == 1 ? null : new float[inputs.size() * rowSize];
    for (int i = 0; i < inputs.size(); i++) {
      InferenceInput input = inputs.get(i);
      float[] row;
      if (input.isText()) {
        throw new GraftException.InvalidArgument(
            "input "
                + i
                + " is text; "
                + model.info().describe()
                + " is not a text model and takes "
                + (model.preprocessing().isPresent()
                    ? "images (PNG/JPEG) or feature vectors of " + rowSize + " floats"
                    : "feature vectors of " + rowSize + " floats"));
      } else if (input.isImage()) {
        row =
            model
                .preprocessing()
                .orElseThrow(
                    () ->
                        new GraftException.InvalidArgument(
                            model.info().describe()
                                + " takes feature vectors, not images (no "
                                + dev.graft.data.Preprocessing.METADATA_KEY
                                + " in its metadata); send features of "
                                + rowSize
                                + " floats"))
                .apply(input.image(), "input " + i);
      } else if (input.features() != null) {
        row = input.features();
      } else {
        throw new GraftException.InvalidArgument("input " + i + " has neither image nor features");
      }
      if (row.length != rowSize) {
        throw new GraftException.InvalidArgument(
            "input "
                + i
                + " has "
                + row.length
                + " features; "
                + model.info().describe()
                + " expects "
                + rowSize
                + " (input '"
                + model.signature().inputName()
                + "' "
                + model.signature().inputShape()
                + ")");
      }
      if (!input.isImage()) {
        checkFinite(row, "input " + i);
      }
      if (data == null) {
        return row;
      }
      System.arraycopy(row, 0, data, i * rowSize, rowSize);
    }
    return data;
  }

  private static float[] checkTensor(
      ServedModel model, String inputName, List<Long> shape, float[] data) {
    ModelSignature sig = model.signature();
    if (!sig.inputName().equals(inputName)) {
      throw new GraftException.InvalidArgument(
          "unknown input '"
              + inputName
              + "'; "
              + model.info().describe()
              + " expects one input named '"
              + sig.inputName()
              + "'");
    }
    boolean ok = shape.size() == sig.inputShape().size();
    for (int i = 1; ok && i < shape.size(); i++) {
      ok = shape.get(i).equals(sig.inputShape().get(i));
    }
    if (!ok) {
      throw new GraftException.InvalidArgument(
          "input '"
              + inputName
              + "' has shape "
              + shape
              + "; "
              + model.info().describe()
              + " expects "
              + sig.inputShape()
              + " (-1 = any batch size)");
    }
    if (data == null) {
      return null; // name and shape only, before decoding
    }
    long expected =
        shape.get(0) <= Integer.MAX_VALUE / Math.max(1, sig.rowSize())
            ? shape.get(0) * (long) sig.rowSize()
            : Long.MAX_VALUE;
    if (data.length != expected) {
      throw new GraftException.InvalidArgument(
          "input '"
              + inputName
              + "' of shape "
              + shape
              + " needs "
              + expected
              + " values, got "
              + data.length);
    }
    checkFinite(data, "input '" + inputName + "'");
    return data;
  }

  /** NaN or infinite inputs give NaN scores: refused, naming the first such value. */
  private static void checkFinite(float[] values, String what) {
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw new GraftException.InvalidArgument(
            what
                + " has "
                + values[i]
                + " at value "
                + i
                + "; inputs must be finite numbers (no NaN or infinity)");
      }
    }
  }

  private static PredictionResult toPrediction(ModelRegistry.Answer answer, int rows, int topK) {
    ServedModel model = answer.model();
    float[] out = answer.output();
    int classes = out.length / rows;
    int k = topK == 0 ? classes : Math.min(topK, classes);
    List<List<ClassScore>> predictions = new ArrayList<>(rows);
    float[] p = new float[classes];
    int[] order = new int[classes];
    for (int r = 0; r < rows; r++) {
      softmax(out, r * classes, p);
      int n = topClasses(p, k, order);
      List<ClassScore> best = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        int c = order[i];
        best.add(new ClassScore(c, model.labels().get(c), p[c]));
      }
      predictions.add(List.copyOf(best));
    }
    List<Boolean> truncated = new ArrayList<>();
    if (answer.truncated() != null) {
      for (boolean t : answer.truncated()) {
        truncated.add(t);
      }
    }
    return new PredictionResult(model.info(), model.provider(), predictions, truncated);
  }

  /**
   * The {@code k} best classes of {@code p} into {@code order[0..k)}, best first, ties to the lower
   * index; returns k. Insertion into a sorted prefix: k is small (usually 1 to 5).
   */
  static int topClasses(float[] p, int k, int[] order) {
    int n = 0;
    for (int c = 0; c < p.length; c++) {
      if (n == k && !(p[c] > p[order[n - 1]])) {
        continue;
      }
      int i = n < k ? n++ : n - 1;
      while (i > 0 && p[c] > p[order[i - 1]]) {
        order[i] = order[i - 1];
        i--;
      }
      order[i] = c;
    }
    return n;
  }

  /** Numerically stable softmax. */
  static float[] softmax(float[] logits) {
    float[] out = new float[logits.length];
    softmax(logits, 0, out);
    return out;
  }

  /** Softmax of {@code logits[from, from + out.length)} into {@code out}. */
  static void softmax(float[] logits, int from, float[] out) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < out.length; i++) {
      max = Math.max(max, logits[from + i]);
    }
    double sum = 0;
    for (int i = 0; i < out.length; i++) {
      double e = Math.exp(logits[from + i] - max);
      out[i] = (float) e;
      sum += e;
    }
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) (out[i] / sum);
    }
  }
}
