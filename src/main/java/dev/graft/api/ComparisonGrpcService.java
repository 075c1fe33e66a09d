package dev.graft.api;

import dev.graft.api.v1.CompareStrategiesRequest;
import dev.graft.api.v1.Comparison;
import dev.graft.api.v1.ComparisonCell;
import dev.graft.api.v1.ComparisonService;
import dev.graft.api.v1.CutPointProbe;
import dev.graft.api.v1.GetComparisonRequest;
import dev.graft.api.v1.ProbeLayersRequest;
import dev.graft.api.v1.ProbeLayersResponse;
import dev.graft.api.v1.SizeVerdict;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.comparison.ComparisonRecord;
import dev.graft.comparison.ComparisonView;
import dev.graft.comparison.Comparisons;
import dev.graft.core.GraftException;
import dev.graft.training.LayerProbes;
import dev.graft.training.RunSpec;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/** gRPC adapter of {@link Comparisons}. */
@GrpcService
public class ComparisonGrpcService implements ComparisonService {

  private static final int MAX_REPEATS = 5;

  private final Comparisons comparisons;
  private final LayerProbes probes;

  ComparisonGrpcService(Comparisons comparisons, LayerProbes probes) {
    this.comparisons = comparisons;
    this.probes = probes;
  }

  @Override
  @Blocking
  public Uni<ProbeLayersResponse> probeLayers(ProbeLayersRequest request) {
    return Uni.createFrom().item(() -> probe(request));
  }

  private ProbeLayersResponse probe(ProbeLayersRequest r) {
    long start = System.nanoTime();
    if (r.getMaxTrainExamples() < 0) {
      throw new GraftException.InvalidArgument(
          "max_train_examples must be >= 0 (0: split.max_train_examples), got "
              + r.getMaxTrainExamples());
    }
    SplitSpec s = r.getSplit();
    LayerProbes.Result result =
        probes.probe(
            new LayerProbes.Request(
                r.getBaseModel(),
                r.getDataset(),
                new RunSpec.Split(
                    s.getValidationFraction(),
                    s.getTestFraction(),
                    r.getMaxTrainExamples() > 0
                        ? r.getMaxTrainExamples()
                        : s.getMaxTrainExamples()),
                r.getSeed(),
                r.getCutPointsList(),
                r.getMaxSequenceLength()));
    return toProto(
        ComparisonView.ProbeSweep.of(result, (System.nanoTime() - start) / 1e9),
        r.getBaseModel(),
        r.getDataset());
  }

  static ProbeLayersResponse toProto(
      ComparisonView.ProbeSweep sweep, String baseModel, String dataset) {
    ProbeLayersResponse.Builder b =
        ProbeLayersResponse.newBuilder()
            .setBaseModel(baseModel)
            .setDataset(dataset)
            .setBestCutPoint(sweep.bestCutPoint())
            .setFeatureSeconds(sweep.featureSeconds())
            .setTotalSeconds(sweep.totalSeconds())
            .setTrainExamples(sweep.trainExamples())
            .setValidationExamples(sweep.validationExamples())
            .setSplitHash(sweep.splitHash())
            .setProvider(sweep.provider());
    for (ComparisonView.Probe p : sweep.probes()) {
      b.addProbes(
          CutPointProbe.newBuilder()
              .setName(p.name())
              .setTensor(p.tensor())
              .setFeatureSize(p.featureSize())
              .addAllShape(p.shape())
              .setValAccuracy(p.valAccuracy())
              .setValLoss(p.valLoss())
              .setL2(p.l2())
              .setTrainSeconds(p.trainSeconds())
              .setFeatureTensor(p.featureTensor()));
    }
    return b.build();
  }

  @Override
  @Blocking
  public Uni<Comparison> compareStrategies(CompareStrategiesRequest request) {
    return Uni.createFrom().item(() -> toProto(start(request)));
  }

  @Override
  @Blocking
  public Uni<Comparison> getComparison(GetComparisonRequest request) {
    return Uni.createFrom().item(() -> toProto(comparisons.get(request.getComparisonId())));
  }

  @Override
  @Blocking
  public Uni<Comparison> cancelComparison(GetComparisonRequest request) {
    return Uni.createFrom().item(() -> toProto(comparisons.cancel(request.getComparisonId())));
  }

  /** The comparison now, then again whenever a run ended or changed, until every run ended. */
  @Override
  public Multi<Comparison> watchComparison(GetComparisonRequest request) {
    long id = request.getComparisonId();
    AtomicReference<Comparison> last = new AtomicReference<>();
    AtomicBoolean ended = new AtomicBoolean();
    return Multi.createFrom()
        .ticks()
        .every(Duration.ofMillis(500))
        .onOverflow()
        .drop()
        .emitOn(Infrastructure.getDefaultWorkerPool())
        .map(tick -> toProto(comparisons.get(id)))
        // The tick after the final table completes the stream.
        .select()
        .first(c -> !ended.get())
        .filter(c -> !c.equals(last.getAndSet(c)))
        .invoke(c -> ended.set(!c.getStatus().equals("RUNNING")));
  }

  private ComparisonView start(CompareStrategiesRequest r) {
    List<dev.graft.training.Strategy> strategies = new ArrayList<>();
    for (Strategy s : new LinkedHashSet<>(r.getStrategiesList())) {
      if (s == Strategy.STRATEGY_UNSPECIFIED || s == Strategy.UNRECOGNIZED) {
        throw new GraftException.InvalidArgument(
            "strategies: each must be TRANSFER_LEARNING, FINE_TUNING, GRADUAL or FROM_SCRATCH");
      }
      strategies.add(dev.graft.training.Strategy.valueOf(s.name()));
    }
    if (strategies.isEmpty()) {
      strategies.addAll(Comparisons.DEFAULT_STRATEGIES);
    }
    int repeats = r.getRepeats() == 0 ? 1 : r.getRepeats();
    if (repeats < 1 || repeats > MAX_REPEATS) {
      throw new GraftException.InvalidArgument(
          "repeats " + r.getRepeats() + " is out of range: use 1-" + MAX_REPEATS + ", or 0 for 1");
    }
    SplitSpec split = r.getSplit();
    double validation = split.getValidationFraction() > 0 ? split.getValidationFraction() : 0.1;
    double test = split.getTestFraction() > 0 ? split.getTestFraction() : 0.1;
    if (split.getMaxTrainExamples() != 0) {
      throw new GraftException.InvalidArgument(
          "split.max_train_examples is set per size by the comparison: use training_sizes");
    }
    List<Integer> sizes =
        comparisons.sizes(r.getDataset(), validation, test, r.getTrainingSizesList());
    List<Comparisons.NewRun> runs = new ArrayList<>();
    for (int size : sizes) {
      for (dev.graft.training.Strategy s : strategies) {
        for (int k = 0; k < repeats; k++) {
          String name =
              r.getName()
                  + "-"
                  + s.name().toLowerCase(Locale.ROOT).replace('_', '-')
                  + "-n"
                  + size
                  + "-r"
                  + k;
          StartRunRequest run =
              StartRunRequest.newBuilder()
                  .setExperimentId(r.getExperimentId())
                  .setName(name)
                  .setBaseModel(r.getBaseModel())
                  .setDataset(r.getDataset())
                  .setStrategy(Strategy.valueOf(s.name()))
                  .setHyperParameters(r.getHyperParameters())
                  .setSplit(
                      SplitSpec.newBuilder()
                          .setValidationFraction(validation)
                          .setTestFraction(test)
                          .setMaxTrainExamples(size))
                  .setSeed(r.getSeed() + k)
                  .setDevice(r.getDevice())
                  .setModelName(name)
                  .build();
          runs.add(new Comparisons.NewRun(s, size, k, TrainingGrpcService.toSpec(run)));
        }
      }
    }
    return comparisons.start(
        new Comparisons.Request(
            r.getExperimentId(),
            r.getName(),
            r.getBaseModel(),
            r.getDataset(),
            strategies,
            sizes,
            repeats,
            r.getProbeLayers()
                ? new ComparisonRecord.ProbeRequest(
                    validation,
                    test,
                    sizes.get(sizes.size() - 1),
                    r.getSeed(),
                    r.getHyperParameters().getMaxSequenceLength())
                : null),
        runs);
  }

  static Comparison toProto(ComparisonView c) {
    Comparison.Builder out =
        Comparison.newBuilder()
            .setId(c.id())
            .setExperimentId(c.experimentId())
            .setName(c.name())
            .setBaseModel(c.baseModel())
            .setDataset(c.dataset())
            .setStatus(c.status())
            .setRunsDone(c.runsDone())
            .setRunsTotal(c.runsTotal())
            .setRecommendation(c.recommendation())
            .setCreateTime(ProtoTime.of(c.createdAt()))
            .setSplitHash(c.splitHash())
            .setProbeStatus(c.probeStatus())
            .setProbeError(c.probeError());
    if (c.probeSweep() != null) {
      out.setProbeSweep(toProto(c.probeSweep(), c.baseModel(), c.dataset()));
    }
    for (ComparisonView.Cell cell : c.cells()) {
      out.addCells(
          ComparisonCell.newBuilder()
              .setStrategy(Strategy.valueOf(cell.strategy().name()))
              .setTrainingExamples(cell.trainingExamples())
              .addAllRunIds(cell.runIds())
              .setRunsSucceeded(cell.runsSucceeded())
              .setTestAccuracy(cell.testAccuracy())
              .setTestMacroF1(cell.testMacroF1())
              .setTestAccuracyStd(cell.testAccuracyStd())
              .setTrainingSeconds(cell.trainingSeconds())
              .setExamplesPerSecond(cell.examplesPerSecond())
              .setTrainableParameters(cell.trainableParameters())
              .setPeakMemoryBytes(cell.peakMemoryBytes()));
    }
    for (ComparisonView.Verdict v : c.verdicts()) {
      SizeVerdict.Builder b =
          SizeVerdict.newBuilder()
              .setTrainingExamples(v.trainingExamples())
              .setWinnerTestAccuracy(v.winner() == null ? Double.NaN : v.winnerTestAccuracy())
              .setMargin(v.margin())
              .setNoise(v.noise())
              .setSignificant(v.significant());
      if (v.winner() != null) {
        b.setWinner(Strategy.valueOf(v.winner().name()));
      }
      if (v.runnerUp() != null) {
        b.setRunnerUp(Strategy.valueOf(v.runnerUp().name()));
      }
      out.addVerdicts(b);
    }
    return out.build();
  }
}
