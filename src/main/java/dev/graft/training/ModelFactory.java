package dev.graft.training;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.core.GraftException;
import dev.graft.core.StorageConfig;
import dev.graft.data.Preprocessing;
import dev.graft.model.Architecture;
import dev.graft.model.Architectures;
import dev.graft.model.BaseModel;
import dev.graft.model.CutPoints;
import dev.graft.model.EncoderSurgery;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphSurgery;
import dev.graft.model.HeadSpec;
import dev.graft.model.InputSpec;
import dev.graft.onnx.OnnxImport;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Builds the graph a run trains from its base model (or architecture) and configuration. */
@ApplicationScoped
public class ModelFactory {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final RunStore store;
  private final StorageConfig storage;

  ModelFactory(RunStore store, StorageConfig storage) {
    this.store = store;
    this.storage = storage;
  }

  /**
   * @param spec the run's configuration
   * @param labels the dataset's classes
   * @param exampleShape the dataset's stored example shape ([c, h, w] or [n])
   */
  GraftedModel build(RunSpec spec, List<String> labels, long[] exampleShape) {
    int classes = labels.size();
    if (spec.strategy() == Strategy.PRETRAINING) {
      InputSpec input =
          exampleShape.length == 3
              ? InputSpec.image((int) exampleShape[0], (int) exampleShape[1], (int) exampleShape[2])
              : InputSpec.features((int) exampleShape[0]);
      Architecture arch = Architectures.get(spec.architecture(), input);
      ModelProto graph =
          GraphSurgery.appendHead(
              arch.backbone(spec.seed()), arch.featureTensor(), head(spec, classes), spec.seed());
      return new GraftedModel(
          graph,
          arch.featureTensor(),
          preprocessingOf(input),
          input.dims(),
          FreezeSpec.none(),
          null,
          "",
          labels);
    }
    BaseModel base = store.baseModel(spec.baseModel());
    if (isText(base)) {
      return buildText(spec, base, labels);
    }
    ModelProto pretrained = OnnxImport.load(resolve(base.onnxPath));
    ModelProto backbone = GraphSurgery.cut(pretrained, base.featureTensor);
    String featureTensor = base.featureTensor;
    if (!spec.cutPoint().isEmpty()) {
      featureTensor =
          CutPoints.resolve(CutPoints.of(backbone, base.featureTensor), spec.cutPoint(), base.name)
              .tensor();
      backbone = GraphSurgery.cut(backbone, featureTensor);
    }
    if (spec.strategy() == Strategy.FROM_SCRATCH) {
      backbone = Reinitializer.randomize(backbone, spec.seed());
    }
    ModelProto graph =
        GraphSurgery.appendHead(backbone, featureTensor, head(spec, classes), spec.seed());
    Preprocessing preprocessing = preprocessingOf(base.preprocessing);
    long[] inputShape = inputShapeOf(base.inputSpec, preprocessing);
    FreezeSpec tuned = fineTuneSpec(spec);
    return switch (spec.strategy()) {
      case TRANSFER_LEARNING ->
          new GraftedModel(
              graph,
              featureTensor,
              preprocessing,
              inputShape,
              FreezeSpec.backbone(),
              null,
              base.name,
              labels);
      case GRADUAL ->
          new GraftedModel(
              graph,
              featureTensor,
              preprocessing,
              inputShape,
              tuned,
              FreezeSpec.backbone(),
              base.name,
              labels);
      case FINE_TUNING ->
          new GraftedModel(
              graph, featureTensor, preprocessing, inputShape, tuned, null, base.name, labels);
      default ->
          new GraftedModel(
              graph,
              featureTensor,
              preprocessing,
              inputShape,
              FreezeSpec.none(),
              null,
              base.name,
              labels);
    };
  }

  /**
   * A text encoder's classifier: the encoder cut at its hidden states (re-initialised for
   * FROM_SCRATCH), masked mean pooling, the head; token inputs, tokenised by the base model's own
   * tokenizer at the run's max sequence length.
   */
  private GraftedModel buildText(RunSpec spec, BaseModel base, List<String> labels) {
    ModelProto pretrained = OnnxImport.load(resolve(base.onnxPath));
    String hidden = base.featureTensor;
    if (!spec.cutPoint().isEmpty()) {
      hidden =
          CutPoints.resolve(
                  CutPoints.of(GraphSurgery.cut(pretrained, base.featureTensor), hidden),
                  spec.cutPoint(),
                  base.name)
              .tensor();
    }
    return textModel(spec, pretrained, hidden, tokenizerOf(base), base.name, labels);
  }

  /**
   * The text classifier a run trains: {@code pretrained} cut at {@code hiddenTensor} (every weight
   * re-initialised for FROM_SCRATCH), masked mean pooling, the run's head; the freeze specs of its
   * strategy, as for images.
   */
  static GraftedModel textModel(
      RunSpec spec,
      ModelProto pretrained,
      String hiddenTensor,
      Path tokenizer,
      String baseName,
      List<String> labels) {
    ModelProto encoder = GraphSurgery.cut(pretrained, hiddenTensor);
    if (spec.strategy() == Strategy.FROM_SCRATCH) {
      encoder = Reinitializer.randomizeEncoder(encoder, spec.seed());
    }
    boolean normalize = spec.head().normalizeEmbedding();
    ModelProto graph =
        EncoderSurgery.appendHead(
            encoder, hiddenTensor, normalize, head(spec, labels.size()), spec.seed());
    List<String> inputs =
        graph.getGraph().getInputList().stream()
            .map(ai.onnx.proto.OnnxMl.ValueInfoProto::getName)
            .toList();
    TextInput text =
        new TextInput(
            tokenizer,
            dev.graft.core.Artifacts.sha256(tokenizer),
            spec.hyper().maxSequenceLength(),
            inputs,
            "mean",
            normalize);
    FreezeSpec freeze;
    FreezeSpec headFirst = null;
    switch (spec.strategy()) {
      case TRANSFER_LEARNING -> freeze = FreezeSpec.backbone();
      case FINE_TUNING -> freeze = fineTuneSpec(spec);
      case GRADUAL -> {
        freeze = fineTuneSpec(spec);
        headFirst = FreezeSpec.backbone();
      }
      default -> freeze = FreezeSpec.none();
    }
    return new GraftedModel(
        graph,
        EncoderSurgery.POOLED,
        null,
        new long[] {-1},
        freeze,
        headFirst,
        baseName,
        labels,
        text);
  }

  /**
   * A base model's backbone and its cut points.
   *
   * @param base the base model
   * @param backbone its graph cut at its feature tensor
   * @param cuts the cut points, the feature tensor last
   * @param preprocessing image preprocessing (null for feature and text models)
   */
  public record Backbone(
      BaseModel base,
      ModelProto backbone,
      List<CutPoints.CutPoint> cuts,
      Preprocessing preprocessing) {

    /** Whether the base model is a text encoder. */
    public boolean text() {
      return isText(base);
    }
  }

  /** The backbone and cut points of a base model; NOT_FOUND for an unknown one. */
  public Backbone backbone(String baseModel) {
    BaseModel base = store.baseModel(baseModel);
    ModelProto backbone =
        GraphSurgery.cut(OnnxImport.load(resolve(base.onnxPath)), base.featureTensor);
    return new Backbone(
        base,
        backbone,
        CutPoints.of(backbone, base.featureTensor),
        preprocessingOf(base.preprocessing));
  }

  /** The block name of the cut point a spec asks for, as it is stored with the run. */
  String canonicalCutPoint(RunSpec spec) {
    if (spec.cutPoint().isEmpty()) {
      return "";
    }
    Backbone b = backbone(spec.baseModel());
    return CutPoints.resolve(b.cuts(), spec.cutPoint(), b.base().name).name();
  }

  /** Whether a base model is a text encoder (it takes token ids, not images or features). */
  static boolean isText(BaseModel base) {
    return base.inputSpec != null && "TEXT".equals(base.inputSpec.get("kind"));
  }

  Path tokenizerOf(BaseModel base) {
    Path tokenizer =
        resolve(base.onnxPath).resolveSibling(dev.graft.model.BaseModels.TOKENIZER_FILE);
    if (!java.nio.file.Files.isRegularFile(tokenizer)) {
      throw new GraftException.FailedPrecondition(
          "text base model '"
              + base.name
              + "' has no "
              + dev.graft.model.BaseModels.TOKENIZER_FILE
              + " beside its ONNX file; restart Graft to store MiniLM's, or re-register the model"
              + " with its tokenizer");
    }
    return tokenizer;
  }

  /**
   * What a text run trains with unless the request says otherwise, as BERT fine-tuning does: AdamW
   * with weight decay 0.01, and the learning rate warmed up then decayed linearly (a CONSTANT
   * schedule without warm-up, the request's unset value, becomes LINEAR). Applied before the spec's
   * defaults, so that the stored spec records it.
   */
  static RunSpec textDefaults(RunSpec requested) {
    RunSpec.Hyper h = requested.hyper();
    boolean defaultOptimizer = h.optimizer() == null || h.optimizer().isBlank();
    boolean defaultSchedule =
        (h.schedule() == null || h.schedule().isBlank() || "CONSTANT".equals(h.schedule()))
            && h.warmupEpochs() == 0;
    if (!defaultOptimizer && !defaultSchedule) {
      return requested;
    }
    return requested.withHyper(
        new RunSpec.Hyper(
            defaultOptimizer ? "ADAMW" : h.optimizer(),
            h.learningRate(),
            h.backboneLrMultiplier(),
            defaultOptimizer && h.weightDecay() == 0 ? 0.01 : h.weightDecay(),
            h.momentum(),
            defaultSchedule ? "LINEAR" : h.schedule(),
            h.warmupEpochs(),
            h.stepEpochs(),
            h.stepGamma(),
            h.batchSize(),
            h.epochs(),
            h.headEpochs(),
            h.earlyStopping(),
            h.augmentRandomCrop(),
            h.augmentHorizontalFlip(),
            h.classWeighting(),
            h.maxSequenceLength()));
  }

  /** Whether the named base model is a text encoder; false when there is no such base model. */
  boolean isTextModel(String baseModel) {
    try {
      return isText(store.baseModel(baseModel));
    } catch (GraftException.NotFound e) {
      return false;
    }
  }

  /**
   * Everything StartRun can check about a run on a base model before queueing it: the dataset's
   * kind and example shape fit the model's input, and the freeze spec (train_last_blocks,
   * train_patterns) selects parameters the grafted graph has. Builds the graph as the run will.
   */
  void preflight(RunSpec spec, dev.graft.data.Dataset dataset) {
    if (spec.strategy() == Strategy.PRETRAINING) {
      return; // the architecture is built for the dataset's shape
    }
    BaseModel base = store.baseModel(spec.baseModel());
    boolean textData = "TEXT".equals(dataset.kind);
    if (isText(base) != textData) {
      throw new GraftException.FailedPrecondition(
          textData
              ? "dataset '"
                  + dataset.name
                  + "' holds texts but base model '"
                  + base.name
                  + "' takes "
                  + ("IMAGE".equals(String.valueOf(base.inputSpec.get("kind")))
                          || preprocessingOf(base.preprocessing) != null
                      ? "images"
                      : "feature vectors")
                  + "; use a text base model such as all-minilm-l6-v2"
              : "base model '"
                  + base.name
                  + "' is a text encoder and takes raw texts, but dataset '"
                  + dataset.name
                  + "' holds "
                  + ("IMAGE".equals(dataset.kind) ? "images" : "feature vectors")
                  + "; use a text dataset (CSV or JSONL of text and label) or an image or"
                  + " feature base model");
    }
    if (textData) {
      tokenizerOf(base);
      GraftedModel grafted = build(spec, dataset.classNames, new long[] {-1});
      grafted.freeze().trainable(grafted.graph());
      return;
    }
    Preprocessing preprocessing = preprocessingOf(base.preprocessing);
    boolean images = "IMAGE".equals(dataset.kind);
    if (images && preprocessing == null) {
      throw new GraftException.FailedPrecondition(
          "dataset '"
              + dataset.name
              + "' holds images but base model '"
              + base.name
              + "' takes input "
              + base.inputSpec.get("shape")
              + " with no image preprocessing; use a feature dataset of that shape or an image"
              + " base model");
    }
    if (!images && preprocessing != null) {
      throw new GraftException.FailedPrecondition(
          "dataset '"
              + dataset.name
              + "' holds feature vectors of "
              + dataset.exampleShape
              + " but base model '"
              + base.name
              + "' takes images ("
              + preprocessing.channels()
              + "x"
              + preprocessing.height()
              + "x"
              + preprocessing.width()
              + "); use an image dataset or a feature base model");
    }
    if (!images) {
      long[] input = inputShapeOf(base.inputSpec, null);
      boolean fits = input.length == dataset.exampleShape.size();
      for (int i = 0; fits && i < input.length; i++) {
        fits = input[i] < 0 || input[i] == dataset.exampleShape.get(i);
      }
      if (!fits) {
        throw new GraftException.FailedPrecondition(
            "dataset '"
                + dataset.name
                + "' has examples of shape "
                + dataset.exampleShape
                + " but base model '"
                + base.name
                + "' takes "
                + java.util.Arrays.toString(input)
                + " (-1 = any); use a dataset whose examples have the model's input shape");
      }
    }
    long[] shape = dataset.exampleShape.stream().mapToLong(Long::longValue).toArray();
    GraftedModel grafted = build(spec, dataset.classNames, shape);
    grafted.freeze().trainable(grafted.graph());
    if (grafted.headFirst() != null) {
      grafted.headFirst().trainable(grafted.graph());
    }
  }

  private static FreezeSpec fineTuneSpec(RunSpec spec) {
    if (!spec.trainPatterns().isEmpty()) {
      return FreezeSpec.patterns(spec.trainPatterns());
    }
    if (spec.trainLastBlocks() > 0) {
      return FreezeSpec.lastBlocks(spec.trainLastBlocks());
    }
    return FreezeSpec.none();
  }

  private static HeadSpec head(RunSpec spec, int classes) {
    HeadSpec.Activation activation =
        HeadSpec.Activation.valueOf(spec.head().activation().toUpperCase());
    return new HeadSpec(spec.head().hiddenSizes(), activation, spec.head().dropout(), classes);
  }

  static Preprocessing preprocessingOf(InputSpec input) {
    if (!input.isImage()) {
      return null;
    }
    float[] mean = new float[input.channels()];
    float[] std = new float[input.channels()];
    for (int c = 0; c < mean.length; c++) {
      mean[c] = input.mean().get(c);
      std[c] = input.std().get(c);
    }
    long[] dims = input.dims();
    return new Preprocessing(input.channels(), (int) dims[1], (int) dims[2], 1f / 255f, mean, std);
  }

  private static Preprocessing preprocessingOf(Map<String, Object> stored) {
    if (stored == null || stored.isEmpty()) {
      return null;
    }
    try {
      return Preprocessing.fromJson(JSON.writeValueAsString(stored));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static long[] inputShapeOf(Map<String, Object> inputSpec, Preprocessing p) {
    if (p != null) {
      return new long[] {p.channels(), p.height(), p.width()};
    }
    Object shape = inputSpec.get("shape");
    if (!(shape instanceof List<?> dims)) {
      throw new GraftException.FailedPrecondition(
          "base model has neither preprocessing nor an input shape; re-import it");
    }
    return dims.stream().mapToLong(d -> ((Number) d).longValue()).toArray();
  }

  Path resolve(String stored) {
    Path p = Path.of(stored);
    return p.isAbsolute() ? p : storage.dir().resolve(p);
  }
}
