package dev.graft.api;

import dev.graft.api.v1.BatchProgress;
import dev.graft.api.v1.CancelRunRequest;
import dev.graft.api.v1.EarlyStopping;
import dev.graft.api.v1.EpochMetrics;
import dev.graft.api.v1.ExportResult;
import dev.graft.api.v1.FeatureCache;
import dev.graft.api.v1.FreezeSpec;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HeadSpec;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.L2Point;
import dev.graft.api.v1.ListRunsRequest;
import dev.graft.api.v1.ListRunsResponse;
import dev.graft.api.v1.MetricValue;
import dev.graft.api.v1.OptimizerKind;
import dev.graft.api.v1.PhaseStarted;
import dev.graft.api.v1.ResumeRunRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.Schedule;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.StatusChange;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingPlan;
import dev.graft.api.v1.TrainingService;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.core.GraftException;
import dev.graft.training.RunSpec;
import dev.graft.training.RunView;
import dev.graft.training.Runs;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/** gRPC adapter of {@link Runs}. */
@GrpcService
public class TrainingGrpcService implements TrainingService {

  private final Runs runs;

  TrainingGrpcService(Runs runs) {
    this.runs = runs;
  }

  @Override
  @Blocking
  public Uni<Run> startRun(StartRunRequest request) {
    return Uni.createFrom()
        .item(() -> toProto(runs.start(toSpec(request), request.getMaxAttempts())));
  }

  @Override
  public Multi<RunEvent> watchRun(WatchRunRequest request) {
    return Uni.createFrom()
        .item(() -> runs.watch(request.getRunId()))
        .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
        .onItem()
        .transformToMulti(events -> events)
        .map(TrainingGrpcService::toProto);
  }

  @Override
  @Blocking
  public Uni<Run> cancelRun(CancelRunRequest request) {
    return Uni.createFrom().item(() -> toProto(runs.cancel(request.getRunId())));
  }

  @Override
  @Blocking
  public Uni<Run> getRun(GetRunRequest request) {
    return Uni.createFrom().item(() -> toProto(runs.get(request.getRunId())));
  }

  @Override
  @Blocking
  public Uni<ListRunsResponse> listRuns(ListRunsRequest request) {
    return Uni.createFrom()
        .item(
            () -> {
              var page =
                  runs.list(
                      request.getExperimentId(),
                      request.getStatus() == RunStatus.RUN_STATUS_UNSPECIFIED
                          ? null
                          : status(request.getStatus()),
                      request.getPageSize(),
                      request.getPageToken());
              return ListRunsResponse.newBuilder()
                  .addAllRuns(page.runs().stream().map(TrainingGrpcService::toProto).toList())
                  .setNextPageToken(page.nextPageToken())
                  .build();
            });
  }

  @Override
  @Blocking
  public Uni<Run> resumeRun(ResumeRunRequest request) {
    return Uni.createFrom().item(() -> toProto(runs.resume(request.getRunId())));
  }

  static RunSpec toSpec(StartRunRequest r) {
    if (r.getStrategy() == Strategy.STRATEGY_UNSPECIFIED
        || r.getStrategy() == Strategy.UNRECOGNIZED) {
      throw new GraftException.InvalidArgument(
          "strategy is required: TRANSFER_LEARNING, FINE_TUNING, GRADUAL or FROM_SCRATCH");
    }
    HyperParameters h = r.getHyperParameters();
    EarlyStopping es = h.getEarlyStopping();
    return new RunSpec(
        r.getExperimentId(),
        r.getName(),
        r.getBaseModel(),
        "",
        r.getDataset(),
        dev.graft.training.Strategy.valueOf(r.getStrategy().name()),
        r.getFreeze().getTrainLastBlocks(),
        r.getFreeze().getTrainPatternsList(),
        new RunSpec.Head(
            r.getHead().getHiddenSizesList(),
            r.getHead().getActivation(),
            r.getHead().getDropout(),
            r.getHead().getNormalizeEmbedding()),
        new RunSpec.Hyper(
            h.getOptimizer() == OptimizerKind.OPTIMIZER_DEFAULT ? "" : h.getOptimizer().name(),
            h.getLearningRate(),
            h.getBackboneLrMultiplier(),
            h.getWeightDecay(),
            h.getMomentum(),
            h.getSchedule().name(),
            h.getWarmupEpochs(),
            h.getStepEpochs(),
            h.getStepGamma(),
            h.getBatchSize(),
            h.getEpochs(),
            h.getHeadEpochs(),
            h.hasEarlyStopping()
                ? new RunSpec.EarlyStop(
                    es.getEnabled(),
                    es.getMetric(),
                    es.getPatience(),
                    es.getMinDelta(),
                    es.getRestoreBest())
                : null,
            h.getAugmentRandomCrop(),
            h.getAugmentHorizontalFlip(),
            h.getClassWeighting(),
            h.getMaxSequenceLength()),
        new RunSpec.Split(
            r.getSplit().getValidationFraction(),
            r.getSplit().getTestFraction(),
            r.getSplit().getMaxTrainExamples()),
        r.getSeed(),
        r.getDevice().name(),
        r.getModelName(),
        r.getCutPoint());
  }

  static StartRunRequest toProto(RunSpec s) {
    RunSpec.Hyper h = s.hyper();
    RunSpec.EarlyStop es = h.earlyStopping();
    return StartRunRequest.newBuilder()
        .setExperimentId(s.experimentId())
        .setName(s.name())
        .setBaseModel(s.baseModel())
        .setDataset(s.dataset())
        .setStrategy(
            s.strategy() == dev.graft.training.Strategy.PRETRAINING
                ? Strategy.FROM_SCRATCH
                : Strategy.valueOf(s.strategy().name()))
        .setFreeze(
            FreezeSpec.newBuilder()
                .setTrainLastBlocks(s.trainLastBlocks())
                .addAllTrainPatterns(s.trainPatterns()))
        .setHead(
            HeadSpec.newBuilder()
                .addAllHiddenSizes(s.head().hiddenSizes())
                .setActivation(s.head().activation())
                .setDropout(s.head().dropout())
                .setNormalizeEmbedding(s.head().normalizeEmbedding()))
        .setHyperParameters(
            HyperParameters.newBuilder()
                .setOptimizer(OptimizerKind.valueOf(h.optimizer()))
                .setLearningRate(h.learningRate())
                .setBackboneLrMultiplier(h.backboneLrMultiplier())
                .setWeightDecay(h.weightDecay())
                .setMomentum(h.momentum())
                .setSchedule(Schedule.valueOf(h.schedule()))
                .setWarmupEpochs(h.warmupEpochs())
                .setStepEpochs(h.stepEpochs())
                .setStepGamma(h.stepGamma())
                .setBatchSize(h.batchSize())
                .setEpochs(h.epochs())
                .setHeadEpochs(h.headEpochs())
                .setEarlyStopping(
                    EarlyStopping.newBuilder()
                        .setEnabled(es.enabled())
                        .setMetric(es.metric())
                        .setPatience(es.patience())
                        .setMinDelta(es.minDelta())
                        .setRestoreBest(es.restoreBest()))
                .setAugmentRandomCrop(h.augmentRandomCrop())
                .setAugmentHorizontalFlip(h.augmentHorizontalFlip())
                .setClassWeighting(h.classWeighting())
                .setMaxSequenceLength(h.maxSequenceLength()))
        .setSplit(
            SplitSpec.newBuilder()
                .setValidationFraction(s.split().validationFraction())
                .setTestFraction(s.split().testFraction())
                .setMaxTrainExamples(s.split().maxTrainExamples()))
        .setSeed(s.seed())
        .setDevice(dev.graft.api.v1.Device.valueOf(s.device()))
        .setModelName(s.modelName())
        .setCutPoint(s.cutPoint())
        .build();
  }

  static Run toProto(RunView v) {
    Run.Builder b =
        Run.newBuilder()
            .setId(v.id())
            .setExperimentId(v.experimentId())
            .setName(v.name())
            .setStrategy(
                v.strategy() == dev.graft.training.Strategy.PRETRAINING
                    ? Strategy.FROM_SCRATCH
                    : Strategy.valueOf(v.strategy().name()))
            .setStatus(RunStatus.valueOf(v.status().name()))
            .setBaseModel(v.baseModel())
            .setDataset(v.dataset())
            .setConfig(toProto(v.spec()))
            .setDevice(v.device())
            .setSeed(v.seed())
            .setSplitHash(v.splitHash())
            .setTrainableParameters(v.trainableParameters())
            .setTotalParameters(v.totalParameters())
            .setFeatureCache(v.featureCache())
            .putAllTestMetrics(v.testMetrics())
            .addAllConfusionMatrix(v.confusionMatrix())
            .addAllLabels(v.labels())
            .setModelVersion(v.modelVersion())
            .setError(v.error())
            .putAllVersions(v.versions())
            .setPeakMemoryBytes(v.peakMemoryBytes())
            .setCreateTime(ProtoTime.of(v.createdAt()))
            .setStartTime(ProtoTime.of(v.startedAt()))
            .setEndTime(ProtoTime.of(v.finishedAt()))
            .setParentRunId(v.parentRunId())
            .setCutPoint(v.spec().cutPoint())
            .setOwner(v.owner())
            .setAttempts(v.attempts());
    if (v.leaseExpiresAt() != null) {
      b.setLeaseExpireTime(ProtoTime.of(v.leaseExpiresAt()));
    }
    if (v.plan() != null) {
      b.setPlan(toProto(v.plan()));
    }
    for (RunView.EpochValue m : v.metrics()) {
      b.addMetrics(
          MetricValue.newBuilder().setKey(m.key()).setEpoch(m.epoch()).setValue(m.value()));
    }
    return b.build();
  }

  static RunEvent toProto(dev.graft.training.RunEvent e) {
    RunEvent.Builder b =
        RunEvent.newBuilder()
            .setRunId(e.runId())
            .setSequence(e.sequence())
            .setTime(ProtoTime.of(e.time()));
    if (e instanceof dev.graft.training.RunEvent.StatusChanged s) {
      b.setStatus(
          StatusChange.newBuilder()
              .setStatus(RunStatus.valueOf(s.status().name()))
              .setMessage(s.message() == null ? "" : s.message()));
    } else if (e instanceof dev.graft.training.RunEvent.Progress p) {
      b.setProgress(
          BatchProgress.newBuilder()
              .setEpoch(p.epoch())
              .setEpochs(p.epochs())
              .setBatchesDone(p.batchesDone())
              .setBatchesTotal(p.batchesTotal())
              .setExamplesPerSecond(p.examplesPerSecond())
              .setEtaSeconds(p.etaSeconds())
              .setTrainLoss(p.trainLoss()));
    } else if (e instanceof dev.graft.training.RunEvent.EpochEnded ep) {
      b.setEpoch(EpochMetrics.newBuilder().setEpoch(ep.epoch()).putAllValues(ep.values()));
    } else if (e instanceof dev.graft.training.RunEvent.PlanChosen p) {
      b.setPlan(toProto(p.plan()));
    } else if (e instanceof dev.graft.training.RunEvent.PhaseStarted p) {
      b.setPhase(PhaseStarted.newBuilder().setPhase(p.phase()).setDetail(p.detail()));
    } else if (e instanceof dev.graft.training.RunEvent.Exported x) {
      b.setExport(
          ExportResult.newBuilder()
              .setModelVersion(x.modelVersion())
              .setSha256(x.sha256())
              .setParityMaxAbsDiff(x.parityMaxAbsDiff())
              .setParityPassed(x.parityPassed()));
    }
    return b.build();
  }

  static TrainingPlan toProto(dev.graft.training.TrainingPlan p) {
    TrainingPlan.Builder b =
        TrainingPlan.newBuilder()
            .setEpochs(p.epochs())
            .setStepsPerEpoch(p.stepsPerEpoch())
            .setMaxSteps(p.maxSteps())
            .setTrainExamples(p.trainExamples())
            .setLearningRate(p.learningRate())
            .setLearningRateSource(p.learningRateSource())
            .setSchedule(p.schedule())
            .setWarmupEpochs(p.warmupEpochs())
            .setHeadEpochs(p.headEpochs())
            .setEarlyStopping(p.earlyStopping())
            .setPatience(p.patience())
            .setHeadFit(p.headFit())
            .setL2(p.l2())
            .addAllPhases(p.phases())
            .setReason(p.reason());
    for (dev.graft.training.TrainingPlan.L2Point l : p.l2Search()) {
      b.addL2Search(
          L2Point.newBuilder()
              .setL2(l.l2())
              .setValAccuracy(l.valAccuracy())
              .setValLoss(l.valLoss())
              .setIterations(l.iterations()));
    }
    dev.graft.training.TrainingPlan.FeatureCache c = p.featureCache();
    if (c != null) {
      b.setFeatureCache(
          FeatureCache.newBuilder()
              .setEngine(c.engine())
              .setProvider(c.provider())
              .setRequested(c.requested())
              .setParityExamples(c.parityExamples())
              .setParityMaxAbsDiff(c.parityMaxAbsDiff())
              .setParityTolerance(c.parityTolerance())
              .setFallback(c.fallback())
              .setExamples(c.examples())
              .setSeconds(c.seconds()));
    }
    return b.build();
  }

  private static dev.graft.experiments.RunStatus status(RunStatus s) {
    if (s == RunStatus.UNRECOGNIZED) {
      throw new GraftException.InvalidArgument("unknown run status " + s);
    }
    return dev.graft.experiments.RunStatus.valueOf(s.name());
  }
}
