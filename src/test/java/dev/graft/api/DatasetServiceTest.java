package dev.graft.api;

import static dev.graft.api.DatasetTestSupport.batch;
import static dev.graft.api.DatasetTestSupport.header;
import static dev.graft.api.DatasetTestSupport.importsDir;
import static dev.graft.api.DatasetTestSupport.storedFiles;
import static dev.graft.api.DatasetTestSupport.unique;
import static dev.graft.api.DatasetTestSupport.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetClassCount;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetHeader;
import dev.graft.api.v1.DatasetImageShape;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetServiceGrpc.DatasetServiceBlockingStub;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.DeleteDatasetRequest;
import dev.graft.api.v1.GetDatasetRequest;
import dev.graft.api.v1.ListDatasetsRequest;
import dev.graft.api.v1.ListDatasetsResponse;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.ResizePolicy;
import dev.graft.api.v1.UploadDatasetRequest;
import dev.graft.data.DatasetReader;
import dev.graft.data.Datasets;
import dev.graft.data.Pixels;
import dev.graft.data.Preprocessing;
import dev.graft.data.Splits;
import dev.graft.data.TestImages;
import dev.graft.experiments.Experiment;
import dev.graft.experiments.ExperimentRepository;
import dev.graft.experiments.Run;
import dev.graft.experiments.RunRepository;
import dev.graft.experiments.RunStatus;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

@QuarkusTest
class DatasetServiceTest extends GraftTest {

  @Inject Datasets datasets;
  @Inject ExperimentRepository experiments;
  @Inject RunRepository runs;

  private DatasetServiceBlockingStub stub;

  @BeforeEach
  void stub() {
    stub = DatasetServiceGrpc.newBlockingStub(channel);
  }

  private static DatasetExample image(int label, byte[] png) {
    return DatasetExample.newBuilder()
        .setLabelIndex(label)
        .setImage(ByteString.copyFrom(png))
        .build();
  }

  private static DatasetExample named(String label, byte[] png) {
    return DatasetExample.newBuilder()
        .setLabelName(label)
        .setImage(ByteString.copyFrom(png))
        .build();
  }

  private static DatasetExample features(int label, float... values) {
    DatasetExample.Builder b = DatasetExample.newBuilder().setLabelIndex(label);
    for (float v : values) {
      b.addFeatures(v);
    }
    return b.build();
  }

  /** 300 PNGs of 3 classes (150, 100, 50), in batches of 32. */
  private List<UploadDatasetRequest> shapesUpload(String name) {
    List<UploadDatasetRequest> messages = new ArrayList<>();
    messages.add(header(name, DatasetKind.DATASET_KIND_IMAGE, "zero", "one", "two"));
    List<DatasetExample> examples = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      int label = i < 150 ? 0 : (i < 250 ? 1 : 2);
      examples.add(image(label, TestImages.png(TestImages.gray(28, 28, i))));
      if (examples.size() == 32) {
        messages.add(batch(examples));
        examples = new ArrayList<>();
      }
    }
    messages.add(batch(examples));
    return messages;
  }

  private static List<Long> counts(Dataset d) {
    return d.getClassCountsList().stream().map(DatasetClassCount::getCount).toList();
  }

  @Test
  void uploadedPngsAreCountedPerClassWithAStableHash() throws Exception {
    String name = unique("shapes");
    Dataset stored = upload(channel, shapesUpload(name));

    assertEquals(name, stored.getName());
    assertEquals(DatasetKind.DATASET_KIND_IMAGE, stored.getKind());
    assertEquals(DatasetSource.DATASET_SOURCE_UPLOAD, stored.getSource());
    assertEquals(List.of("zero", "one", "two"), stored.getClassNamesList());
    assertEquals(List.of(150L, 100L, 50L), counts(stored));
    assertEquals(300, stored.getExampleCount());
    assertEquals(List.of(1L, 28L, 28L), stored.getExampleShapeList());

    Dataset fetched = stub.getDataset(GetDatasetRequest.newBuilder().setId(stored.getId()).build());
    assertEquals(stored, fetched);
    assertEquals(stored, stub.getDataset(GetDatasetRequest.newBuilder().setName(name).build()));
    Path file = datasets.file(stored.getId());
    String fileSha =
        HexFormat.of()
            .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    assertEquals(fileSha, stored.getSha256());
    assertEquals(Files.size(file), stored.getSizeBytes());
    assertEquals(300L * (4 + 784) + 0, stored.getSizeBytes() - footerAndTrailer(file));

    Dataset again = upload(channel, shapesUpload(unique("shapes-again")));
    assertEquals(stored.getSha256(), again.getSha256());

    try (DatasetReader reader = datasets.open(stored.getId())) {
      assertEquals(TestImages.gray(28, 28, 7), reader.pixels(7));
      assertEquals(1, reader.label(200));
      Preprocessing p =
          new Preprocessing(1, 28, 28, 1f / 255, new float[] {0.5f}, new float[] {0.25f});
      assertArrayEquals(
          p.apply(TestImages.png(TestImages.gray(28, 28, 7)), "served"), reader.example(7, p), 0f);
    }
  }

  private static long footerAndTrailer(Path file) throws IOException {
    byte[] all = Files.readAllBytes(file);
    int n = all.length;
    int footer =
        (all[n - 12] & 0xff)
            | (all[n - 11] & 0xff) << 8
            | (all[n - 10] & 0xff) << 16
            | (all[n - 9] & 0xff) << 24;
    return footer + 12L;
  }

  @Test
  void listPagesNewestFirst() {
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(
          upload(
                  channel,
                  List.of(
                      header(unique("page"), DatasetKind.DATASET_KIND_FEATURES, "a"),
                      batch(List.of(features(0, i)))))
              .getId());
    }
    ListDatasetsResponse first =
        stub.listDatasets(ListDatasetsRequest.newBuilder().setPageSize(2).build());
    assertEquals(
        List.of(ids.get(2), ids.get(1)),
        first.getDatasetsList().stream().map(Dataset::getId).toList());
    ListDatasetsResponse second =
        stub.listDatasets(
            ListDatasetsRequest.newBuilder()
                .setPageSize(2)
                .setPageToken(first.getNextPageToken())
                .build());
    assertEquals(ids.get(0), second.getDatasets(0).getId());
    assertStatus(
        Code.INVALID_ARGUMENT,
        "page_token 'nope'",
        () -> stub.listDatasets(ListDatasetsRequest.newBuilder().setPageToken("nope").build()));
  }

  /** The call fails with that status, and neither a row nor a file stays behind. */
  private void assertRefusedAndNothingStored(Code code, String text, String name, Executable call) {
    Set<String> before = storedFiles();
    assertStatus(code, text, call);
    assertStatus(
        Code.NOT_FOUND,
        "does not exist",
        () -> stub.getDataset(GetDatasetRequest.newBuilder().setName(name).build()));
    assertEquals(before, storedFiles(), "files under the datasets area");
  }

  private void assertUploadRefused(
      Code code, String text, String name, List<UploadDatasetRequest> messages) {
    assertRefusedAndNothingStored(code, text, name, () -> upload(channel, messages));
  }

  @Test
  void badUploadsAreRefusedAndStoreNothing() {
    byte[] png = TestImages.png(TestImages.gray(8, 8, 1));
    String name = unique("bad");
    UploadDatasetRequest twoClasses = header(name, DatasetKind.DATASET_KIND_IMAGE, "a", "b");
    List<DatasetExample> good = List.of(image(0, png), image(1, png), image(0, png));

    List<DatasetExample> corrupt =
        List.of(image(1, new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3}));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "example 3 is not a readable PNG or JPEG image",
        name,
        List.of(twoClasses, batch(good), batch(corrupt)));

    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "example 1 has label 'c', which is not one of the classes [a, b]",
        name,
        List.of(twoClasses, batch(List.of(image(0, png), named("c", png)))));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "example 2 has no label: set label_index or label_name",
        name,
        List.of(
            twoClasses,
            batch(
                List.of(
                    image(0, png),
                    image(1, png),
                    DatasetExample.newBuilder().setImage(ByteString.copyFrom(png)).build()))));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "example 0: label_index 2 is out of range [0, 2)",
        name,
        List.of(twoClasses, batch(List.of(image(2, png)))));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "class [b] declared but without examples",
        name,
        List.of(twoClasses, batch(List.of(image(0, png), named("a", png)))));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "example 2 is 9x8 (height x width) but the dataset's images are 8x8",
        name,
        List.of(
            twoClasses,
            batch(List.of(image(0, png), image(1, png))),
            batch(List.of(image(1, TestImages.png(TestImages.gray(9, 8, 0)))))));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "example 1 has 3 features but the first example has 2",
        name,
        List.of(
            header(name, DatasetKind.DATASET_KIND_FEATURES, "a", "b"),
            batch(List.of(features(0, 1, 2), features(1, 1, 2, 3)))));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "the first message must be a DatasetHeader",
        name,
        List.of(batch(good)));
    assertUploadRefused(Code.INVALID_ARGUMENT, "the upload has no header", name, List.of());
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "message 2 is a second header",
        name,
        List.of(twoClasses, batch(good), twoClasses));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "the header has no kind",
        name,
        List.of(header(name, DatasetKind.DATASET_KIND_UNSPECIFIED, "a")));
    assertUploadRefused(
        Code.INVALID_ARGUMENT,
        "name 'has space' is not valid",
        "has space",
        List.of(header("has space", DatasetKind.DATASET_KIND_FEATURES, "a")));
    // the default per-example limit is 16 MiB
    byte[] huge = new byte[17 << 20];
    System.arraycopy(png, 0, huge, 0, png.length);
    assertUploadRefused(
        Code.RESOURCE_EXHAUSTED,
        "example 3 is 17825792 bytes; one example may have at most 16777216",
        name,
        List.of(twoClasses, batch(good), batch(List.of(image(1, huge)))));
  }

  @Test
  void mixedSizesAreResizedWithTheStretchPolicy() {
    String name = unique("stretch");
    Dataset d =
        upload(
            channel,
            List.of(
                header(
                    DatasetHeader.newBuilder()
                        .setName(name)
                        .setKind(DatasetKind.DATASET_KIND_IMAGE)
                        .addClassNames("a")
                        .setImageShape(
                            DatasetImageShape.newBuilder()
                                .setChannels(3)
                                .setHeight(16)
                                .setWidth(16))
                        .setResizePolicy(ResizePolicy.RESIZE_POLICY_STRETCH)
                        .build()),
                batch(
                    List.of(
                        image(0, TestImages.png(TestImages.gray(8, 8, 0))),
                        image(0, TestImages.jpeg(new Pixels(3, 20, 10, new byte[600])))))));
    assertEquals(List.of(3L, 16L, 16L), d.getExampleShapeList());
    assertEquals(2, d.getExampleCount());
  }

  @Test
  void duplicateNameIsAlreadyExists() {
    String name = unique("dup");
    Dataset first =
        upload(
            channel,
            List.of(
                header(name, DatasetKind.DATASET_KIND_FEATURES, "a"),
                batch(List.of(features(0, 1)))));
    Set<String> before = storedFiles();
    assertStatus(
        Code.ALREADY_EXISTS,
        "a dataset named '" + name + "' already exists",
        () ->
            upload(
                channel,
                List.of(
                    header(name, DatasetKind.DATASET_KIND_FEATURES, "a"),
                    batch(List.of(features(0, 2))))));
    assertEquals(before, storedFiles());
    assertEquals(first, stub.getDataset(GetDatasetRequest.newBuilder().setName(name).build()));
  }

  private static void writeIdx(
      Path images, Path labels, int n, int h, int w, int classes, boolean gzip) throws IOException {
    try (DataOutputStream out = new DataOutputStream(open(images, gzip));
        DataOutputStream lab = new DataOutputStream(open(labels, gzip))) {
      out.writeInt(0x00000803);
      out.writeInt(n);
      out.writeInt(h);
      out.writeInt(w);
      lab.writeInt(0x00000801);
      lab.writeInt(n);
      for (int i = 0; i < n; i++) {
        out.write(TestImages.gray(h, w, i).data());
        lab.writeByte(i % classes);
      }
    }
  }

  private static OutputStream open(Path file, boolean gzip) throws IOException {
    Files.createDirectories(file.getParent());
    OutputStream out = Files.newOutputStream(file);
    return gzip ? new GZIPOutputStream(out) : out;
  }

  private Dataset register(RegisterDatasetRequest.Builder request) {
    return stub.registerDataset(request.build());
  }

  @Test
  void idxFilesRegisterGzippedOrNot() throws Exception {
    Path dir = importsDir().resolve(unique("idx"));
    writeIdx(dir.resolve("images.gz"), dir.resolve("labels.gz"), 50, 28, 28, 10, true);
    writeIdx(dir.resolve("images"), dir.resolve("labels"), 50, 28, 28, 10, false);

    Dataset gz =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("idx-gz"))
                .setSource(DatasetSource.DATASET_SOURCE_IDX)
                .setPath(dir.getFileName() + "/images.gz")
                .setLabelsPath(dir.resolve("labels.gz").toString()));
    Dataset plain =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("idx"))
                .setSource(DatasetSource.DATASET_SOURCE_IDX)
                .setPath(dir.getFileName() + "/images")
                .setLabelsPath(dir.getFileName() + "/labels"));

    assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), gz.getClassNamesList());
    assertEquals(List.of(5L, 5L, 5L, 5L, 5L, 5L, 5L, 5L, 5L, 5L), counts(gz));
    assertEquals(gz.getSha256(), plain.getSha256());
    assertEquals(DatasetSource.DATASET_SOURCE_IDX, gz.getSource());
    try (DatasetReader r = datasets.open(plain.getId())) {
      assertEquals(TestImages.gray(28, 28, 13), r.pixels(13));
      assertEquals(3, r.label(13));
    }

    Path three = importsDir().resolve(unique("idx3"));
    writeIdx(three.resolve("i"), three.resolve("l"), 9, 4, 4, 3, false);
    String name = unique("idx-empty");
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "classes [3, 4, 5, 6, 7, 8, 9] declared but without examples",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_IDX)
                    .setPath(three.getFileName() + "/i")
                    .setLabelsPath(three.getFileName() + "/l")));
    Dataset named =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("idx-named"))
                .setSource(DatasetSource.DATASET_SOURCE_IDX)
                .setPath(three.getFileName() + "/i")
                .setLabelsPath(three.getFileName() + "/l")
                .addAllClassNames(List.of("x", "y", "z")));
    assertEquals(List.of(3L, 3L, 3L), counts(named));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "IDX image file l starts with magic 0x801",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_IDX)
                    .setPath(three.getFileName() + "/l")
                    .setLabelsPath(three.getFileName() + "/i")));
  }

  @Test
  void csvRegistersFeatureVectors() throws Exception {
    Path csv = importsDir().resolve(unique("iris") + ".csv");
    Files.writeString(
        csv,
        "sepal,petal,species\n1.0,2.5,setosa\n1.5,-0.5,\"versicolor\"\n\n2,3e-1,setosa\n",
        StandardCharsets.UTF_8);
    Dataset d =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("csv"))
                .setSource(DatasetSource.DATASET_SOURCE_CSV)
                .setPath(csv.getFileName().toString())
                .setLabelColumn("species"));

    assertEquals(DatasetKind.DATASET_KIND_FEATURES, d.getKind());
    assertEquals(List.of("setosa", "versicolor"), d.getClassNamesList());
    assertEquals(List.of(2L, 1L), counts(d));
    assertEquals(List.of(2L), d.getExampleShapeList());
    try (DatasetReader r = datasets.open(d.getId())) {
      assertArrayEquals(new float[] {2f, 0.3f}, r.features(2), 0f);
    }

    // Quoted fields holding commas, doubled quotes and a line break (RFC 4180).
    Path quoted = importsDir().resolve(unique("quoted") + ".csv");
    Files.writeString(
        quoted,
        "\"x, first\",y,label\n1,2,\"a, \"\"b\"\"\"\n3,\"4\",\"two\nlines\"\n5,6,\"a, \"\"b\"\"\"\n",
        StandardCharsets.UTF_8);
    Dataset q =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("csv-quoted"))
                .setSource(DatasetSource.DATASET_SOURCE_CSV)
                .setPath(quoted.getFileName().toString()));
    assertEquals(List.of("a, \"b\"", "two\nlines"), q.getClassNamesList());
    assertEquals(List.of(2L, 1L), counts(q));
    try (DatasetReader r = datasets.open(q.getId())) {
      assertArrayEquals(new float[] {3f, 4f}, r.features(1), 0f);
      assertArrayEquals(new float[] {5f, 6f}, r.features(2), 0f);
    }
    Path unclosed = importsDir().resolve(unique("unclosed") + ".csv");
    Files.writeString(unclosed, "a,label\n1,\"x\n");
    String unclosedName = unique("csv-unclosed");
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "is malformed",
        unclosedName,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(unclosedName)
                    .setSource(DatasetSource.DATASET_SOURCE_CSV)
                    .setPath(unclosed.getFileName().toString())));

    Path ragged = importsDir().resolve(unique("ragged") + ".csv");
    Files.writeString(ragged, "a,b,label\n1,2,x\n1,2,3,x\n");
    String name = unique("csv-bad");
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "CSV line 3 has 4 columns but the header has 3",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_CSV)
                    .setPath(ragged.getFileName().toString())));
    Path text = importsDir().resolve(unique("text") + ".csv");
    Files.writeString(text, "a,label\n1,x\nabc,y\n");
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "CSV line 3: column 'a' holds 'abc', not a number",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_CSV)
                    .setPath(text.getFileName().toString())));
  }

  @Test
  void imageFolderRegistersOneClassPerSubdirectory() throws Exception {
    Path root = importsDir().resolve(unique("folder"));
    for (int i = 0; i < 6; i++) {
      String cls = i % 2 == 0 ? "cat" : "dog";
      Path file = root.resolve(cls).resolve(String.format(Locale.ROOT, "%02d.png", i));
      Files.createDirectories(file.getParent());
      Files.write(file, TestImages.png(TestImages.gray(12, 12, i)));
    }
    Files.writeString(root.resolve("cat").resolve("notes.txt"), "ignored");
    Files.write(
        root.resolve("dog").resolve("x.JPG"),
        TestImages.jpeg(new Pixels(3, 12, 12, new byte[432])));

    Dataset d =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("pets"))
                .setSource(DatasetSource.DATASET_SOURCE_IMAGE_FOLDER)
                .setPath(root.getFileName().toString()));

    assertEquals(List.of("cat", "dog"), d.getClassNamesList());
    assertEquals(List.of(3L, 4L), counts(d));
    assertEquals(List.of(1L, 12L, 12L), d.getExampleShapeList());

    Files.write(root.resolve("dog").resolve("y.png"), new byte[] {1, 2, 3});
    String name = unique("pets-bad");
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "image 'dog/y.png' (example 7) is not a readable PNG or JPEG image",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_IMAGE_FOLDER)
                    .setPath(root.getFileName().toString())));
  }

  @Test
  void mnistJsonDigitsRegister() throws Exception {
    Path dir = importsDir().resolve(unique("digits"));
    Files.createDirectories(dir);
    for (int d = 0; d < 10; d++) {
      StringBuilder json = new StringBuilder("{ \"data\": [");
      for (int k = 0; k < (d + 1) * 784; k++) {
        int value = (k * 13 + d) % 256;
        json.append(k == 0 ? "" : ",")
            .append(String.format(Locale.ROOT, "%.3f", value / 255.0).replaceAll("\\.?0+$", ""));
      }
      Files.writeString(dir.resolve(d + ".json"), json.append("] }").toString());
    }
    Dataset digits =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("mnist-json"))
                .setSource(DatasetSource.DATASET_SOURCE_MNIST_JSON)
                .setPath(dir.getFileName().toString()));
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), counts(digits));
    try (DatasetReader r = datasets.open(digits.getId())) {
      Pixels first = r.pixels(0);
      for (int k = 0; k < 784; k++) {
        assertEquals((k * 13) % 256, first.data()[k] & 0xff, "pixel " + k);
      }
    }
  }

  @Test
  void syntheticShapesRegisterDeterministically() {
    Dataset a =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("synthetic"))
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .setExamplesPerClass(20)
                .setSeed(5));
    Dataset b =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("synthetic"))
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .setExamplesPerClass(20)
                .setSeed(5));
    Dataset c =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("synthetic"))
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .addClassNames("circle")
                .addClassNames("cross")
                .setExamplesPerClass(20)
                .setSeed(6));
    assertEquals(8, a.getClassNamesCount());
    assertEquals(160, a.getExampleCount());
    assertEquals(a.getSha256(), b.getSha256());
    assertEquals(List.of("circle", "cross"), c.getClassNamesList());
    assertNotEquals(a.getSha256(), c.getSha256());
  }

  @Test
  void pathsOutsideTheImportRootArePermissionDenied() throws Exception {
    Path outside = DatasetTestSupport.dataDir().getParent().resolve(unique("outside"));
    Files.createDirectories(outside.resolve("cls"));
    Files.write(outside.resolve("cls").resolve("a.png"), TestImages.png(TestImages.gray(4, 4, 0)));
    Path link = importsDir().resolve(unique("link"));
    Files.createSymbolicLink(link, outside);
    Path folder = importsDir().resolve(unique("sneaky"));
    Files.createDirectories(folder.resolve("cls"));
    Files.createSymbolicLink(
        folder.resolve("cls").resolve("a.png"), outside.resolve("cls").resolve("a.png"));

    String name = unique("denied");
    for (String path :
        List.of(
            "../" + outside.getFileName(),
            "../../../../../../etc",
            outside.toString(),
            link.getFileName().toString(),
            folder.getFileName().toString())) {
      assertRefusedAndNothingStored(
          Code.PERMISSION_DENIED,
          "lies outside the import root",
          name,
          () ->
              register(
                  RegisterDatasetRequest.newBuilder()
                      .setName(name)
                      .setSource(DatasetSource.DATASET_SOURCE_IMAGE_FOLDER)
                      .setPath(path)));
    }
    assertRefusedAndNothingStored(
        Code.PERMISSION_DENIED,
        "lies outside the import root",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_CSV)
                    .setPath("/etc/passwd")));
    assertStatus(
        Code.NOT_FOUND,
        "does not exist",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_CSV)
                    .setPath("missing.csv")));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "source must be",
        () -> register(RegisterDatasetRequest.newBuilder().setName(name).setPath("x")));
  }

  @Test
  void deleteIsRefusedWhileARunUsesTheDataset() {
    Dataset d =
        upload(
            channel,
            List.of(
                header(unique("del"), DatasetKind.DATASET_KIND_FEATURES, "a"),
                batch(List.of(features(0, 1)))));
    Path file = datasets.file(d.getId());
    long runId = insertRun(d.getId(), RunStatus.QUEUED);

    assertStatus(
        Code.FAILED_PRECONDITION,
        "is used by queued or running run(s) [" + runId + "]",
        () -> stub.deleteDataset(DeleteDatasetRequest.newBuilder().setId(d.getId()).build()));
    assertTrue(Files.exists(file));

    QuarkusTransaction.requiringNew().run(() -> runs.findById(runId).status = RunStatus.SUCCEEDED);
    var deleted = stub.deleteDataset(DeleteDatasetRequest.newBuilder().setId(d.getId()).build());

    assertEquals(d.getSizeBytes(), deleted.getSizeBytes());
    assertFalse(Files.exists(file));
    assertStatus(
        Code.NOT_FOUND,
        "dataset " + d.getId() + " does not exist",
        () -> stub.getDataset(GetDatasetRequest.newBuilder().setId(d.getId()).build()));
    QuarkusTransaction.requiringNew()
        .run(() -> assertEquals(null, runs.findById(runId).datasetId, "the finished run let go"));
    assertStatus(
        Code.NOT_FOUND,
        "does not exist",
        () -> stub.deleteDataset(DeleteDatasetRequest.newBuilder().setId(d.getId()).build()));
  }

  private long insertRun(long datasetId, RunStatus status) {
    return QuarkusTransaction.requiringNew()
        .call(
            () -> {
              Experiment e = new Experiment();
              e.name = unique("exp");
              e.createdAt = Instant.now();
              e.updatedAt = e.createdAt;
              experiments.persist(e);
              Run r = new Run();
              r.experimentId = e.id;
              r.name = "run";
              r.strategy = "TRANSFER_LEARNING";
              r.status = status;
              r.datasetId = datasetId;
              r.seed = 1;
              r.requestedDevice = "cpu";
              r.createdAt = Instant.now();
              r.updatedAt = r.createdAt;
              runs.persist(r);
              return r.id;
            });
  }

  @Test
  void splitsOfAStoredDatasetAreDeterministic() {
    Dataset d =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("split"))
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .setExamplesPerClass(25)
                .setSeed(1));
    Splits.Fractions f = new Splits.Fractions(0.6, 0.2, 0.2);

    Splits.Split a = datasets.split(d.getId(), f, 42);
    Splits.Split b = datasets.split(d.getId(), f, 42);
    Splits.Split c = datasets.split(d.getId(), f, 43);

    assertEquals(a, b);
    assertNotEquals(a.hash(), c.hash());
    assertEquals(8 * 5, a.test().length);
    assertEquals(8 * 15, a.train().length);
  }
}
