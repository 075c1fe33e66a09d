package dev.graft.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.v1.ComparisonServiceGrpc;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.core.ServiceRole;
import grpc.health.v1.HealthGrpc;
import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which role answers which service, and what a call to the wrong role is told. */
class RoleGateInterceptorTest {

  private static final List<ServiceDescriptor> CONTROL =
      List.of(
          ExperimentServiceGrpc.getServiceDescriptor(),
          DatasetServiceGrpc.getServiceDescriptor(),
          TrainingServiceGrpc.getServiceDescriptor(),
          ModelServiceGrpc.getServiceDescriptor(),
          ComparisonServiceGrpc.getServiceDescriptor());
  private static final List<ServiceDescriptor> SERVING =
      List.of(
          InferenceServiceGrpc.getServiceDescriptor(),
          GRPCInferenceServiceGrpc.getServiceDescriptor());

  @Test
  void everyRoleServesItsOwnServicesAndRefusesTheOthers() {
    for (ServiceDescriptor d : CONTROL) {
      for (MethodDescriptor<?, ?> m : methods(d)) {
        assertTrue(
            RoleGateInterceptor.refusal(ServiceRole.ALL, m).isEmpty(), m.getFullMethodName());
        assertTrue(
            RoleGateInterceptor.refusal(ServiceRole.API, m).isEmpty(), m.getFullMethodName());
        assertTrue(RoleGateInterceptor.refusal(ServiceRole.INFERENCE, m).isPresent());
        assertTrue(RoleGateInterceptor.refusal(ServiceRole.TRAINER, m).isPresent());
      }
    }
    for (ServiceDescriptor d : SERVING) {
      for (MethodDescriptor<?, ?> m : methods(d)) {
        assertTrue(RoleGateInterceptor.refusal(ServiceRole.ALL, m).isEmpty());
        assertTrue(RoleGateInterceptor.refusal(ServiceRole.INFERENCE, m).isEmpty());
        assertTrue(RoleGateInterceptor.refusal(ServiceRole.API, m).isPresent());
        assertTrue(RoleGateInterceptor.refusal(ServiceRole.TRAINER, m).isPresent());
      }
    }
    for (ServiceRole role : ServiceRole.values()) {
      for (MethodDescriptor<?, ?> m : methods(HealthGrpc.getServiceDescriptor())) {
        assertTrue(RoleGateInterceptor.refusal(role, m).isEmpty(), role + " answers health");
      }
    }
  }

  @Test
  void theRefusalSaysWhichRoleAndServiceToCall() {
    assertEquals(
        Optional.of(
            "this Graft process has graft.role=inference; TrainingService/StartRun is served by"
                + " the api role (Service graft-api, or a process with graft.role=all)"),
        RoleGateInterceptor.refusal(
            ServiceRole.INFERENCE, TrainingServiceGrpc.getStartRunMethod()));
    assertEquals(
        Optional.of(
            "this Graft process has graft.role=trainer; InferenceService/Predict is served by"
                + " the inference role (Service graft-inference, or a process with"
                + " graft.role=all)"),
        RoleGateInterceptor.refusal(ServiceRole.TRAINER, InferenceServiceGrpc.getPredictMethod()));
  }

  @Test
  void aRefusedCallIsClosedUnimplementedAndNeverReachesTheService() {
    RoleGateInterceptor gate = new RoleGateInterceptor(ServiceRole.INFERENCE);
    var call = new RecordingCall<>(TrainingServiceGrpc.getStartRunMethod());
    boolean[] reached = {false};
    gate.interceptCall(
        call,
        new Metadata(),
        (c, h) -> {
          reached[0] = true;
          return new ServerCall.Listener<>() {};
        });
    assertFalse(reached[0]);
    assertEquals(Status.Code.UNIMPLEMENTED, call.closed.getCode());
    assertTrue(
        call.closed.getDescription().contains("served by the api role"), call.closed.toString());

    var predict = new RecordingCall<>(InferenceServiceGrpc.getPredictMethod());
    gate.interceptCall(
        predict,
        new Metadata(),
        (c, h) -> {
          reached[0] = true;
          return new ServerCall.Listener<>() {};
        });
    assertTrue(reached[0], "the inference role serves Predict");
    assertNull(predict.closed);
  }

  private static List<MethodDescriptor<?, ?>> methods(ServiceDescriptor d) {
    List<MethodDescriptor<?, ?>> out = new java.util.ArrayList<>();
    for (MethodDescriptor<?, ?> m : d.getMethods()) {
      out.add(m);
    }
    return out;
  }

  /** A server call that records how it was closed. */
  private static final class RecordingCall<ReqT, RespT> extends ServerCall<ReqT, RespT> {
    private final MethodDescriptor<ReqT, RespT> method;
    Status closed;

    RecordingCall(MethodDescriptor<ReqT, RespT> method) {
      this.method = method;
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void sendHeaders(Metadata headers) {}

    @Override
    public void sendMessage(RespT message) {}

    @Override
    public void close(Status status, Metadata trailers) {
      closed = status;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public Attributes getAttributes() {
      return Attributes.EMPTY;
    }

    @Override
    public MethodDescriptor<ReqT, RespT> getMethodDescriptor() {
      return method;
    }
  }
}
