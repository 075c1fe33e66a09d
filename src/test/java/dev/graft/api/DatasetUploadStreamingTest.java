package dev.graft.api;

import static dev.graft.api.DatasetTestSupport.batch;
import static dev.graft.api.DatasetTestSupport.header;
import static dev.graft.api.DatasetTestSupport.stagingDir;
import static dev.graft.api.DatasetTestSupport.storedFiles;
import static dev.graft.api.DatasetTestSupport.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.GetDatasetRequest;
import dev.graft.data.Pixels;
import dev.graft.data.SyntheticShapes;
import dev.graft.data.TestImages;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.jboss.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * A 10,000-example upload is written to disk while it streams: halfway through, with the client
 * waiting, the staging file already holds every example sent so far. A server that collected the
 * stream in memory before writing would have no such file until the stream ended.
 */
@QuarkusTest
class DatasetUploadStreamingTest extends GraftTest {

  private static final Logger LOG = Logger.getLogger(DatasetUploadStreamingTest.class);
  private static final int EXAMPLES = 10_000;
  private static final int BATCH = 100;
  private static final int RECORD = 4 + 28 * 28;

  private static long stagingBytes() throws IOException {
    if (!Files.exists(stagingDir())) {
      return 0;
    }
    try (Stream<Path> files = Files.list(stagingDir())) {
      long total = 0;
      for (Path p : files.toList()) {
        total += Files.size(p);
      }
      return total;
    }
  }

  @Test
  void tenThousandExamplesStreamToDiskAsTheyArrive() throws Exception {
    SyntheticShapes shapes = new SyntheticShapes(List.of(), 9);
    List<ByteString> pngs = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      Pixels p = shapes.next(i % 8);
      pngs.add(ByteString.copyFrom(TestImages.png(p)));
    }
    String name = unique("stream");
    long start = System.nanoTime();
    Dataset stored;
    try (DatasetTestSupport.UploadCall call = new DatasetTestSupport.UploadCall(channel)) {
      call.send(
          header(
              name, DatasetKind.DATASET_KIND_IMAGE, SyntheticShapes.SHAPES.toArray(String[]::new)));
      int sent = 0;
      while (sent < EXAMPLES) {
        List<DatasetExample> examples = new ArrayList<>();
        for (int k = 0; k < BATCH; k++, sent++) {
          examples.add(
              DatasetExample.newBuilder()
                  .setLabelIndex(sent % 8)
                  .setImage(pngs.get(sent % pngs.size()))
                  .build());
        }
        call.send(batch(examples));
        if (sent == EXAMPLES / 2) {
          // The server must have written (almost) everything sent so far; only its 64 KiB write
          // buffer may still be in memory.
          long expected = (long) sent * RECORD - (1 << 16);
          long deadline = System.nanoTime() + 20_000_000_000L;
          long written = stagingBytes();
          while (written < expected && System.nanoTime() < deadline) {
            Thread.sleep(20);
            written = stagingBytes();
          }
          LOG.infof("after %d examples sent, %d bytes staged", sent, written);
          assertTrue(
              written >= expected,
              "the staging file holds " + written + " bytes after " + sent + " examples");
        }
      }
      stored = call.complete();
    }
    long millis = (System.nanoTime() - start) / 1_000_000;
    LOG.infof("uploaded %d examples in %d ms", EXAMPLES, millis);

    assertEquals(EXAMPLES, stored.getExampleCount());
    assertEquals(
        List.of(1250L, 1250L, 1250L, 1250L, 1250L, 1250L, 1250L, 1250L),
        stored.getClassCountsList().stream().map(c -> c.getCount()).toList());
    assertEquals(0, stagingBytes(), "the staging file was moved into place");
  }

  /** Both uploads pass the early name check; the database's unique name decides at the end. */
  @Test
  void concurrentUploadsOfOneNameStoreOnlyOne() throws Exception {
    Set<String> before = storedFiles();
    String name = unique("race");
    DatasetExample example =
        DatasetExample.newBuilder().setLabelIndex(0).addFeatures(1f).addFeatures(2f).build();
    try (DatasetTestSupport.UploadCall a = new DatasetTestSupport.UploadCall(channel);
        DatasetTestSupport.UploadCall b = new DatasetTestSupport.UploadCall(channel)) {
      for (DatasetTestSupport.UploadCall call : List.of(a, b)) {
        call.send(header(name, DatasetKind.DATASET_KIND_FEATURES, "a"));
        call.send(batch(List.of(example)));
      }
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (stagingFiles() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertEquals(2, stagingFiles(), "both uploads are under way");
      Dataset stored = a.complete();
      assertStatus(Code.ALREADY_EXISTS, "'" + name + "' already exists", b::complete);
      Set<String> after = new java.util.TreeSet<>(storedFiles());
      after.removeAll(before);
      assertEquals(1, after.size(), "one new file: " + after);
      assertEquals(
          stored,
          DatasetServiceGrpc.newBlockingStub(channel)
              .getDataset(GetDatasetRequest.newBuilder().setName(name).build()));
    }
  }

  private static long stagingFiles() throws IOException {
    try (Stream<Path> files = Files.list(stagingDir())) {
      return files.count();
    }
  }

  @Test
  void aCancelledUploadLeavesNothingBehind() throws Exception {
    Set<String> before = storedFiles();
    String name = unique("cancelled");
    byte[] png = TestImages.png(TestImages.gray(28, 28, 0));
    try (DatasetTestSupport.UploadCall call = new DatasetTestSupport.UploadCall(channel)) {
      call.send(header(name, DatasetKind.DATASET_KIND_IMAGE, "a"));
      List<DatasetExample> examples = new ArrayList<>();
      for (int i = 0; i < 500; i++) {
        examples.add(
            DatasetExample.newBuilder()
                .setLabelIndex(0)
                .setImage(ByteString.copyFrom(png))
                .build());
      }
      call.send(batch(examples));
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (stagingBytes() < 400L * RECORD && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(stagingBytes() > 0, "the upload had started writing");
      // closing without completing cancels the call
    }
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!storedFiles().equals(before) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(before, storedFiles());
    assertStatus(
        Code.NOT_FOUND,
        "does not exist",
        () ->
            DatasetServiceGrpc.newBlockingStub(channel)
                .getDataset(GetDatasetRequest.newBuilder().setName(name).build()));
  }
}
