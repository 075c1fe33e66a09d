package dev.graft.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.graft.api.v1.FloatVector;
import dev.graft.api.v1.GetBaseModelRequest;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PredictRequest;
import dev.graft.model.ModelVersions;
import dev.graft.serving.ServingFixtures;
import dev.graft.support.GraftTest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Error texts reach a grpc-java client exactly as the server wrote them: punctuation that the gRPC
 * spec leaves unescaped ({@code , ; : = / [ ]}), {@code %}, and non-ASCII text. The Node and Python
 * clients check the same texts in examples/ (run by {@code examples/node/ci.sh}).
 */
@QuarkusTest
class ErrorTextTest extends GraftTest {

  /** Every character class that a wrong encoder garbles. */
  static final String AWKWARD_NAME = "naïve, a;b:c=d/e%f 100% ✓ 日本 \"q\" %3B";

  @Inject ModelVersions versions;

  @Test
  void punctuationPercentAndNonAsciiArriveExactly() {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                ModelServiceGrpc.newBlockingStub(channel)
                    .getBaseModel(GetBaseModelRequest.newBuilder().setName(AWKWARD_NAME).build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    assertEquals(
        "base model 'naïve, a;b:c=d/e%f 100% ✓ 日本 \"q\" %3B' does not exist",
        e.getStatus().getDescription());
  }

  @Test
  void aShapeMismatchReadsAsWritten() {
    String name = ServingFixtures.unique("texts");
    ServingFixtures.registerMlp(versions, name, 3, Map.of());
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                InferenceServiceGrpc.newBlockingStub(channel)
                    .predict(
                        PredictRequest.newBuilder()
                            .setModel(ModelRef.newBuilder().setName(name))
                            .addInputs(
                                Input.newBuilder()
                                    .setFeatures(
                                        FloatVector.newBuilder().addValues(1).addValues(2)))
                            .build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals(
        "input 0 has 2 features; model '" + name + "' version 1 expects 8 (input 'input' [-1, 8])",
        e.getStatus().getDescription());
  }
}
