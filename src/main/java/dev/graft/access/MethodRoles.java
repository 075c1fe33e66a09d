package dev.graft.access;

import static dev.graft.access.Role.ADMIN;
import static dev.graft.access.Role.READER;
import static dev.graft.access.Role.TRAINER;

import java.util.Map;
import java.util.Set;

/**
 * The role each gRPC method needs, by full method name. Every method is listed here on purpose: a
 * method missing from the table needs {@link Role#ADMIN}, and a test checks that every method of
 * every service is listed.
 */
public final class MethodRoles {

  /** Services that need no key: probes and tooling must work without one. */
  public static final Set<String> OPEN_SERVICES =
      Set.of(
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection");

  private static final String EXP = "graft.v1.ExperimentService/";
  private static final String CMP = "graft.v1.ComparisonService/";
  private static final String DS = "graft.v1.DatasetService/";
  private static final String MOD = "graft.v1.ModelService/";
  private static final String TRN = "graft.v1.TrainingService/";
  private static final String INF = "graft.v1.InferenceService/";
  private static final String KS = "inference.GRPCInferenceService/";

  static final Map<String, Role> TABLE =
      Map.ofEntries(
          Map.entry(EXP + "CreateExperiment", TRAINER),
          Map.entry(EXP + "GetExperiment", READER),
          Map.entry(EXP + "ListExperiments", READER),
          Map.entry(EXP + "UpdateExperiment", TRAINER),
          Map.entry(EXP + "SearchRuns", READER),
          Map.entry(EXP + "GetMetricHistory", READER),
          Map.entry(EXP + "CompareRuns", READER),
          Map.entry(CMP + "CompareStrategies", TRAINER),
          Map.entry(CMP + "GetComparison", READER),
          Map.entry(CMP + "WatchComparison", READER),
          Map.entry(CMP + "CancelComparison", TRAINER),
          Map.entry(CMP + "ProbeLayers", TRAINER),
          Map.entry(DS + "UploadDataset", TRAINER),
          Map.entry(DS + "RegisterDataset", TRAINER),
          Map.entry(DS + "ListDatasets", READER),
          Map.entry(DS + "GetDataset", READER),
          Map.entry(DS + "DeleteDataset", ADMIN),
          Map.entry(MOD + "ListModelVersions", READER),
          Map.entry(MOD + "GetModelVersion", READER),
          Map.entry(MOD + "DownloadModelVersion", READER),
          Map.entry(MOD + "SetModelAlias", ADMIN),
          Map.entry(MOD + "ListBaseModels", READER),
          Map.entry(MOD + "GetBaseModel", READER),
          Map.entry(MOD + "ImportBaseModel", ADMIN),
          Map.entry(MOD + "PretrainBaseModel", ADMIN),
          Map.entry(TRN + "StartRun", TRAINER),
          Map.entry(TRN + "WatchRun", READER),
          Map.entry(TRN + "CancelRun", TRAINER),
          Map.entry(TRN + "GetRun", READER),
          Map.entry(TRN + "ListRuns", READER),
          Map.entry(TRN + "ResumeRun", TRAINER),
          Map.entry(INF + "Predict", READER),
          Map.entry(INF + "PredictStream", READER),
          Map.entry(KS + "ServerLive", READER),
          Map.entry(KS + "ServerReady", READER),
          Map.entry(KS + "ModelReady", READER),
          Map.entry(KS + "ServerMetadata", READER),
          Map.entry(KS + "ModelMetadata", READER),
          Map.entry(KS + "ModelInfer", READER),
          Map.entry(KS + "ModelStreamInfer", READER),
          Map.entry(KS + "ModelStatistics", READER),
          Map.entry(KS + "RepositoryIndex", READER));

  private MethodRoles() {}

  /** The role {@code fullMethodName} needs; admin for a method the table does not list. */
  public static Role needed(String fullMethodName) {
    return TABLE.getOrDefault(fullMethodName, ADMIN);
  }

  /** Whether the table lists {@code fullMethodName}. */
  public static boolean isMapped(String fullMethodName) {
    return TABLE.containsKey(fullMethodName);
  }

  /** Whether calls to it are worth an audit line: they change or remove what others use. */
  public static boolean isAudited(String fullMethodName) {
    return needed(fullMethodName) == ADMIN
        || fullMethodName.endsWith("/CancelRun")
        || fullMethodName.endsWith("/CancelComparison");
  }
}
