package dev.graft.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.PredictRequest;
import dev.graft.model.ModelVersions;
import dev.graft.serving.ServingFixtures;
import dev.graft.support.GraftTest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * Requests too large to take: a message over the inbound limit, images whose headers claim more
 * pixels than the limits allow (decompression bombs). Each is refused with RESOURCE_EXHAUSTED
 * naming the limit, before the work it would cost, and the service goes on answering.
 */
@QuarkusTest
class LargeRequestTest extends GraftTest {

  @Inject ModelVersions versions;

  @Test
  void aMessageOverTheInboundLimitIsRefusedCleanly() throws Exception {
    List<LogRecord> problems = new CopyOnWriteArrayList<>();
    Handler watch =
        new Handler() {
          @Override
          public void publish(LogRecord r) {
            String text = r.getMessage() + " " + r.getThrown();
            if (text.contains("Trailers already sent") || text.contains("IllegalStateException")) {
              problems.add(r);
            }
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger root = Logger.getLogger("");
    root.addHandler(watch);
    try {
      String name = ServingFixtures.unique("big");
      ServingFixtures.registerCnn(versions, name, 1);
      PredictRequest huge = imageRequest(name, ByteString.copyFrom(new byte[100_000_000]));
      StatusRuntimeException e =
          assertThrows(
              StatusRuntimeException.class,
              () -> InferenceServiceGrpc.newBlockingStub(channel).predict(huge));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.toString());
      assertEquals(
          "gRPC message exceeds maximum size 67108864: " + huge.getSerializedSize(),
          e.getStatus().getDescription());
      // The same channel still serves a normal request.
      byte[] png = ServingFixtures.png(new Random(2));
      assertEquals(
          1,
          InferenceServiceGrpc.newBlockingStub(channel)
              .predict(imageRequest(name, ByteString.copyFrom(png)))
              .getPredictionsCount());
      Thread.sleep(500); // anything the refusal logs has been logged
    } finally {
      root.removeHandler(watch);
    }
    assertFalse(
        !problems.isEmpty(), () -> "logged: " + problems.get(0).getMessage() + problems.get(0));
  }

  @Test
  void imagesClaimingTooManyPixelsAreRefusedFromTheirHeaders() throws Exception {
    String name = ServingFixtures.unique("bomb");
    ServingFixtures.registerCnn(versions, name, 1);
    var inference = InferenceServiceGrpc.newBlockingStub(channel);
    // 16000 x 16000 pixels claimed by a 57-byte file: refused before anything is decoded.
    assertStatus(
        Status.Code.RESOURCE_EXHAUSTED,
        "input 0 is 16000x16000 pixels (height x width, 256000000 pixels); an image may have at"
            + " most 16777216 (graft.serving.max-image-pixels)",
        () -> inference.predict(imageRequest(name, ByteString.copyFrom(pngHeader(16000, 16000)))));
    // Five images within the per-image limit, too many pixels together.
    PredictRequest.Builder five =
        PredictRequest.newBuilder().setModel(ModelRef.newBuilder().setName(name));
    for (int i = 0; i < 5; i++) {
      five.addInputs(Input.newBuilder().setImage(ByteString.copyFrom(pngHeader(4096, 4096))));
    }
    assertStatus(
        Status.Code.RESOURCE_EXHAUSTED,
        "the request's images have 83886080 pixels together; at most 67108864 are decoded at once"
            + " (graft.serving.max-decoding-pixels)",
        () -> inference.predict(five.build()));
    // Nothing was left reserved: a normal image still predicts.
    byte[] png = ServingFixtures.png(new Random(3));
    assertEquals(
        1, inference.predict(imageRequest(name, ByteString.copyFrom(png))).getPredictionsCount());
  }

  private static PredictRequest imageRequest(String model, ByteString image) {
    return PredictRequest.newBuilder()
        .setModel(ModelRef.newBuilder().setName(model))
        .addInputs(Input.newBuilder().setImage(image))
        .build();
  }

  /** A PNG that is only its signature, an IHDR claiming the size, and IEND. */
  static byte[] pngHeader(int width, int height) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
    DataOutputStream h = new DataOutputStream(ihdr);
    h.writeInt(width);
    h.writeInt(height);
    h.write(new byte[] {8, 0, 0, 0, 0}); // 8-bit gray, no interlace
    chunk(out, "IHDR", ihdr.toByteArray());
    chunk(out, "IEND", new byte[0]);
    return bytes.toByteArray();
  }

  private static void chunk(DataOutputStream out, String type, byte[] data) throws IOException {
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    out.writeInt(data.length);
    out.write(t);
    out.write(data);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    out.writeInt((int) crc.getValue());
  }
}
