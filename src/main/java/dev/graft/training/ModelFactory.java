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
    ModelProto pretrained = OnnxImport.load(resolve(base.onnxPath));
    ModelProto backbone = GraphSurgery.cut(pretrained, base.featureTensor);
    if (spec.strategy() == Strategy.FROM_SCRATCH) {
      backbone = Reinitializer.randomize(backbone, spec.seed());
    }
    ModelProto graph =
        GraphSurgery.appendHead(backbone, base.featureTensor, head(spec, classes), spec.seed());
    Preprocessing preprocessing = preprocessingOf(base.preprocessing);
    long[] inputShape = inputShapeOf(base.inputSpec, preprocessing);
    FreezeSpec tuned = fineTuneSpec(spec);
    return switch (spec.strategy()) {
      case TRANSFER_LEARNING ->
          new GraftedModel(
              graph,
              base.featureTensor,
              preprocessing,
              inputShape,
              FreezeSpec.backbone(),
              null,
              base.name,
              labels);
      case GRADUAL ->
          new GraftedModel(
              graph,
              base.featureTensor,
              preprocessing,
              inputShape,
              tuned,
              FreezeSpec.backbone(),
              base.name,
              labels);
      case FINE_TUNING ->
          new GraftedModel(
              graph, base.featureTensor, preprocessing, inputShape, tuned, null, base.name, labels);
      default ->
          new GraftedModel(
              graph,
              base.featureTensor,
              preprocessing,
              inputShape,
              FreezeSpec.none(),
              null,
              base.name,
              labels);
    };
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
