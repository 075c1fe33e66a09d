package dev.graft.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.v1.ComparisonServiceGrpc;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.TrainingServiceGrpc;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MethodRolesTest {

  private static final List<ServiceDescriptor> SERVICES =
      List.of(
          ExperimentServiceGrpc.getServiceDescriptor(),
          ComparisonServiceGrpc.getServiceDescriptor(),
          DatasetServiceGrpc.getServiceDescriptor(),
          ModelServiceGrpc.getServiceDescriptor(),
          TrainingServiceGrpc.getServiceDescriptor(),
          InferenceServiceGrpc.getServiceDescriptor(),
          GRPCInferenceServiceGrpc.getServiceDescriptor());

  @Test
  void everyMethodOfEveryServiceIsMapped() {
    List<String> unmapped = new ArrayList<>();
    int methods = 0;
    for (ServiceDescriptor service : SERVICES) {
      for (MethodDescriptor<?, ?> method : service.getMethods()) {
        methods++;
        if (!MethodRoles.isMapped(method.getFullMethodName())) {
          unmapped.add(method.getFullMethodName());
        }
      }
    }
    assertEquals(List.of(), unmapped);
    assertEquals(methods, MethodRoles.TABLE.size(), "the table lists a method no service has");
  }

  @Test
  void destructiveCallsNeedAdminAndUnknownMethodsToo() {
    assertEquals(Role.ADMIN, MethodRoles.needed("graft.v1.DatasetService/DeleteDataset"));
    assertEquals(Role.ADMIN, MethodRoles.needed("graft.v1.ModelService/SetModelAlias"));
    assertEquals(Role.ADMIN, MethodRoles.needed("graft.v1.NewService/Anything"));
    assertEquals(Role.TRAINER, MethodRoles.needed("graft.v1.TrainingService/StartRun"));
    assertEquals(Role.READER, MethodRoles.needed("inference.GRPCInferenceService/ModelInfer"));
    assertTrue(Role.ADMIN.mayCall(Role.TRAINER));
    assertFalse(Role.READER.mayCall(Role.TRAINER));
    assertTrue(Role.ALL.mayCall(Role.ADMIN));
  }

  @Test
  void keysAreFoundByTheirDigestOnly() {
    String hex = HexFormat.of().formatHex(ApiKeys.sha256("s3cret"));
    ApiKeys keys = new ApiKeys(Map.of(hex, "trainer"));
    assertEquals(Role.TRAINER, keys.find("s3cret").orElseThrow().role());
    assertEquals(hex.substring(0, 8), keys.find("s3cret").orElseThrow().fingerprint());
    assertTrue(keys.find("s3cret!").isEmpty());
    assertTrue(keys.find(hex).isEmpty());
    assertEquals("k", ApiKeys.keyFrom("Bearer k", null).orElseThrow());
    assertEquals("k2", ApiKeys.keyFrom(null, "k2").orElseThrow());
    assertTrue(ApiKeys.keyFrom("Basic abc", null).isEmpty());
  }
}
