package dev.graft.api;

import static dev.graft.api.DatasetTestSupport.batch;
import static dev.graft.api.DatasetTestSupport.commit;
import static dev.graft.api.DatasetTestSupport.header;
import static dev.graft.api.DatasetTestSupport.stagingDir;
import static dev.graft.api.DatasetTestSupport.storedFiles;
import static dev.graft.api.DatasetTestSupport.unique;
import static dev.graft.api.DatasetTestSupport.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.GetBaseModelRequest;
import dev.graft.api.v1.GetDatasetRequest;
import dev.graft.api.v1.ImagePreprocessing;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.core.StorageConfig;
import dev.graft.data.TestImages;
import dev.graft.model.Architectures;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Uploads and imports are all-or-nothing: only a stream that ends right after a matching commit is
 * stored. A client that cancels, whether after none, some or all of its data, leaves no record and
 * no file, and so does one that half-closes without a commit or with a wrong one.
 */
@QuarkusTest
class UploadCommitTest extends GraftTest {

  private static final int EXAMPLES = 300;
  private static final long SETTLE_NANOS = 20_000_000_000L;

  @Inject StorageConfig storage;

  private static final byte[] PNG = TestImages.png(TestImages.gray(28, 28, 0));

  private static List<DatasetExample> images(int count) {
    List<DatasetExample> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add(
          DatasetExample.newBuilder()
              .setLabelIndex(i % 2)
              .setImage(ByteString.copyFrom(PNG))
              .build());
    }
    return out;
  }

  private static long filesIn(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).count();
    }
  }

  /** Waits (bounded) until the server has let go of every staging file. */
  private static void awaitNoFilesIn(Path dir) throws Exception {
    long deadline = System.nanoTime() + SETTLE_NANOS;
    while (filesIn(dir) > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(0, filesIn(dir), "files left in " + dir);
  }

  private void assertNoDataset(String name) {
    assertStatus(
        Code.NOT_FOUND,
        "does not exist",
        () ->
            DatasetServiceGrpc.newBlockingStub(channel)
                .getDataset(GetDatasetRequest.newBuilder().setName(name).build()));
  }

  @ParameterizedTest(name = "cancelled after {0} of " + EXAMPLES + " examples")
  @ValueSource(ints = {0, 100, EXAMPLES})
  void aCancelledUploadStoresNothingAndLeavesNoFile(int sent) throws Exception {
    Set<String> before = storedFiles();
    String name = unique("cancel-" + sent);
    try (DatasetTestSupport.UploadCall call = new DatasetTestSupport.UploadCall(channel)) {
      call.send(header(name, DatasetKind.DATASET_KIND_IMAGE, "a", "b"));
      for (int i = 0; i < sent; i += 50) {
        call.send(batch(images(Math.min(50, sent - i))));
      }
      // Let the server take in what was sent, so that the cancel meets a stream under way.
      Thread.sleep(300);
      call.cancel();
    }
    awaitNoFilesIn(stagingDir());
    Thread.sleep(200); // a store would follow the last staged write at once
    assertEquals(before, storedFiles());
    assertNoDataset(name);
  }

  @Test
  void anUploadWithoutACommitOrWithAWrongOneIsRefusedAndStoresNothing() throws Exception {
    Set<String> before = storedFiles();
    String name = unique("uncommitted");
    try (DatasetTestSupport.UploadCall call = new DatasetTestSupport.UploadCall(channel)) {
      call.send(header(name, DatasetKind.DATASET_KIND_IMAGE, "a", "b"));
      call.send(batch(images(10)));
      assertStatus(
          Code.INVALID_ARGUMENT,
          "the upload ended without a commit after 10 examples; nothing was stored",
          call::halfClose);
    }
    assertStatus(
        Code.INVALID_ARGUMENT,
        "the commit says 9 examples but 10 arrived",
        () ->
            upload(
                channel,
                List.of(
                    header(name, DatasetKind.DATASET_KIND_IMAGE, "a", "b"),
                    batch(images(10)),
                    commit(9))));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "message 3 follows the commit",
        () ->
            upload(
                channel,
                List.of(
                    header(name, DatasetKind.DATASET_KIND_IMAGE, "a", "b"),
                    batch(images(10)),
                    commit(10),
                    batch(images(2)))));
    awaitNoFilesIn(stagingDir());
    assertEquals(before, storedFiles());
    assertNoDataset(name);

    Dataset stored =
        upload(
            channel,
            List.of(
                header(name, DatasetKind.DATASET_KIND_IMAGE, "a", "b"),
                batch(images(10)),
                commit(10)));
    assertEquals(10, stored.getExampleCount());
  }

  @Test
  void aNegativeLabelIndexIsOutOfRange() {
    String name = unique("negative-label");
    assertStatus(
        Code.INVALID_ARGUMENT,
        "example 1: label_index -1 is out of range [0, 2)",
        () ->
            upload(
                channel,
                List.of(
                    header(name, DatasetKind.DATASET_KIND_FEATURES, "a", "b"),
                    batch(
                        List.of(
                            DatasetExample.newBuilder().setLabelIndex(0).addFeatures(1f).build(),
                            DatasetExample.newBuilder()
                                .setLabelIndex(-1)
                                .addFeatures(1f)
                                .build())))));
  }

  private static ImportBaseModelHeader importHeader(String name) {
    return ImportBaseModelHeader.newBuilder()
        .setName(name)
        .setFeatureTensor("features")
        .setPreprocessing(
            ImagePreprocessing.newBuilder()
                .setChannels(1)
                .setHeight(28)
                .setWidth(28)
                .setScale(1f / 255)
                .addMean(0.5f)
                .addStd(0.5f))
        .build();
  }

  private void assertNoBaseModel(String name) {
    assertStatus(
        Code.NOT_FOUND,
        "does not exist",
        () ->
            ModelServiceGrpc.newBlockingStub(channel)
                .getBaseModel(GetBaseModelRequest.newBuilder().setName(name).build()));
  }

  /** 0, about half, or every chunk of the file sent, then the call cancelled. */
  @ParameterizedTest(name = "cancelled after {0} of 4 quarters of the file")
  @ValueSource(ints = {0, 2, 4})
  void aCancelledImportStoresNothingAndLeavesNoFile(int quarters) throws Exception {
    byte[] onnx = Architectures.get("cnn-small").classifier(10, 3).toByteArray();
    long modelsBefore = filesIn(storage.area("base-models"));
    String name = unique("cancel-import-" + quarters);
    try (ImportTestSupport.ImportCall call = new ImportTestSupport.ImportCall(channel)) {
      call.header(importHeader(name));
      int end = onnx.length * quarters / 4;
      for (int i = 0; i < end; i += 1024) {
        call.chunk(onnx, i, Math.min(1024, end - i));
      }
      Thread.sleep(300);
      call.cancel();
    }
    awaitNoFilesIn(storage.area("staging"));
    Thread.sleep(200);
    assertEquals(modelsBefore, filesIn(storage.area("base-models")));
    assertNoBaseModel(name);
  }

  @Test
  void anImportWithoutACommitOrWithAWrongOneIsRefusedAndStoresNothing() throws Exception {
    byte[] onnx = Architectures.get("cnn-small").classifier(10, 3).toByteArray();
    long modelsBefore = filesIn(storage.area("base-models"));
    String name = unique("uncommitted-import");
    try (ImportTestSupport.ImportCall call = new ImportTestSupport.ImportCall(channel)) {
      call.header(importHeader(name));
      call.chunk(onnx, 0, onnx.length);
      assertStatus(Code.INVALID_ARGUMENT, "the import ended without a commit", call::halfClose);
    }
    try (ImportTestSupport.ImportCall call = new ImportTestSupport.ImportCall(channel)) {
      call.header(importHeader(name));
      call.chunk(onnx, 0, onnx.length);
      call.commit(onnx.length + 1, "00");
      assertStatus(
          Code.INVALID_ARGUMENT,
          "the commit says " + (onnx.length + 1) + " bytes but " + onnx.length + " arrived",
          call::halfClose);
    }
    try (ImportTestSupport.ImportCall call = new ImportTestSupport.ImportCall(channel)) {
      call.header(importHeader(name));
      call.chunk(onnx, 0, onnx.length);
      call.commit(onnx.length, "0".repeat(64));
      assertStatus(
          Code.INVALID_ARGUMENT,
          "the commit's sha256 '" + "0".repeat(64) + "' differs",
          call::halfClose);
    }
    awaitNoFilesIn(storage.area("staging"));
    assertEquals(modelsBefore, filesIn(storage.area("base-models")));
    assertNoBaseModel(name);

    assertEquals(name, ImportTestSupport.importModel(channel, importHeader(name), onnx).getName());
  }
}
