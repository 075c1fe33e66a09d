package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * Validates examples one at a time and writes them to a staging file: the single path through which
 * uploads, every importer and the synthetic generator store a dataset, so they all apply the same
 * checks and limits. Either {@link #finish()} returns the complete file, or {@link #abort()}
 * deletes it: nothing is ever half-stored.
 */
public final class DatasetBuilder implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(DatasetBuilder.class);
  private static final int MAX_CLASS_NAME = 128;

  private final Path staging;
  private final DatasetKind kind;
  private final List<String> classNames;
  private final Map<String, Integer> labelByName = new HashMap<>();
  private final DatasetLimits limits;
  private final ResizePolicy resizePolicy;
  private final long[] classCounts;
  private ImageShape imageShape;
  private String imageShapeOrigin;
  private int featureLength = -1;
  private long maxTextChars;
  private long totalTextChars;
  private long maxTextBytes;
  private DatasetWriter writer;
  private boolean done;

  /**
   * @param staging the file to create (must not exist)
   * @param imageShape images only: the shape to store, or null to take the first image's
   */
  public DatasetBuilder(
      Path staging,
      DatasetKind kind,
      List<String> classNames,
      DatasetLimits limits,
      ImageShape imageShape,
      ResizePolicy resizePolicy) {
    this.staging = staging;
    this.kind = kind;
    this.limits = limits;
    this.classNames = List.copyOf(checkClassNames(classNames, limits));
    for (int i = 0; i < this.classNames.size(); i++) {
      labelByName.put(this.classNames.get(i), i);
    }
    this.classCounts = new long[this.classNames.size()];
    this.resizePolicy = resizePolicy == null ? ResizePolicy.REJECT : resizePolicy;
    if (imageShape != null) {
      if (kind != DatasetKind.IMAGE) {
        throw new GraftException.InvalidArgument(
            "an image shape was given for a " + kind + " dataset; omit it");
      }
      checkSide(imageShape.height(), imageShape.width(), "the image shape");
      this.imageShape = imageShape;
      this.imageShapeOrigin = "the header";
    }
  }

  private static List<String> checkClassNames(List<String> names, DatasetLimits limits) {
    if (names == null || names.isEmpty()) {
      throw new GraftException.InvalidArgument(
          "class_names is empty: declare the classes in label order");
    }
    if (names.size() > limits.maxClasses()) {
      throw new GraftException.ResourceExhausted(
          names.size()
              + " classes declared; at most "
              + limits.maxClasses()
              + " are allowed (graft.data.max-classes)");
    }
    Set<String> seen = new HashSet<>();
    for (String name : names) {
      if (name == null || name.isBlank() || name.length() > MAX_CLASS_NAME) {
        throw new GraftException.InvalidArgument(
            "class name '" + name + "' is not valid: use 1-" + MAX_CLASS_NAME + " characters");
      }
      if (!seen.add(name)) {
        throw new GraftException.InvalidArgument(
            "class name '" + name + "' is declared twice; class names must be unique");
      }
    }
    return names;
  }

  public DatasetKind kind() {
    return kind;
  }

  public List<String> classNames() {
    return classNames;
  }

  /** Examples accepted so far. */
  public long count() {
    return writer == null ? 0 : writer.count();
  }

  /** Bytes written to the staging file so far. */
  public long bytesWritten() {
    return writer == null ? 0 : writer.bytesWritten();
  }

  /** The label index of a class name; INVALID_ARGUMENT naming the example when unknown. */
  public int label(String name, String what) {
    Integer label = labelByName.get(name);
    if (label == null) {
      throw new GraftException.InvalidArgument(
          what + " has label '" + name + "', which is not one of the classes " + classNames);
    }
    return label;
  }

  /** Checks a label index; INVALID_ARGUMENT naming the example when out of range. */
  public int label(long index, String what) {
    if (index < 0 || index >= classNames.size()) {
      throw new GraftException.InvalidArgument(
          what
              + " has label index "
              + index
              + ", outside 0.."
              + (classNames.size() - 1)
              + " (the "
              + classNames.size()
              + " declared classes)");
    }
    return (int) index;
  }

  /** Adds an encoded PNG or JPEG image, checking its size before decoding it. */
  public void addEncodedImage(int label, byte[] encoded, String what) {
    requireKind(DatasetKind.IMAGE, what);
    checkExampleBytes(encoded.length, what);
    addImage(label, Pixels.decode(encoded, what, limits.maxImageSide()), what);
  }

  /** Adds a decoded image, converted to the dataset's channels and, if allowed, resized. */
  public void addImage(int label, Pixels pixels, String what) {
    requireKind(DatasetKind.IMAGE, what);
    label(label, what);
    checkSide(pixels.height(), pixels.width(), what);
    if (imageShape == null) {
      imageShape = pixels.shape();
      imageShapeOrigin = "the first image";
    }
    Pixels stored = pixels.withChannels(imageShape.channels());
    if (stored.height() != imageShape.height() || stored.width() != imageShape.width()) {
      if (resizePolicy != ResizePolicy.STRETCH) {
        throw new GraftException.InvalidArgument(
            what
                + " is "
                + pixels.height()
                + "x"
                + pixels.width()
                + " (height x width) but the dataset's images are "
                + imageShape.height()
                + "x"
                + imageShape.width()
                + " (set by "
                + imageShapeOrigin
                + "); resize the images or set resize_policy RESIZE_POLICY_STRETCH");
      }
      stored = stored.resized(imageShape.height(), imageShape.width());
    }
    checkExampleBytes(stored.data().length, what);
    DatasetWriter w = writer(imageShape.size(), 0, what);
    w.writeImage(label, stored.data());
    classCounts[label]++;
  }

  /** Adds a feature vector; all vectors of a dataset have the length of the first. */
  public void addFeatures(int label, float[] features, String what) {
    requireKind(DatasetKind.FEATURES, what);
    label(label, what);
    checkExampleBytes(4L * features.length, what);
    if (features.length == 0) {
      throw new GraftException.InvalidArgument(what + " has an empty feature vector");
    }
    if (featureLength < 0) {
      featureLength = features.length;
    } else if (features.length != featureLength) {
      throw new GraftException.InvalidArgument(
          what
              + " has "
              + features.length
              + " features but the first example has "
              + featureLength
              + "; every feature vector of a dataset must have the same length");
    }
    for (int i = 0; i < features.length; i++) {
      if (!Float.isFinite(features[i])) {
        throw new GraftException.InvalidArgument(
            what + " has a non-finite feature " + features[i] + " at position " + i);
      }
    }
    writer(4 * featureLength, 0, what).writeFeatures(label, features);
    classCounts[label]++;
  }

  /**
   * Adds a text, stored as given. Empty or white-space-only text is INVALID_ARGUMENT (it could
   * teach nothing and is almost always a broken row); more than {@code max-text-chars} code points
   * or {@code max-example-bytes} UTF-8 bytes is RESOURCE_EXHAUSTED.
   */
  public void addText(int label, String text, String what) {
    requireKind(DatasetKind.TEXT, what);
    label(label, what);
    if (text == null || text.isBlank()) {
      throw new GraftException.InvalidArgument(
          what + " has no text (it is empty or only white space)");
    }
    // Cheap bound first: a string of n chars has at least n / 2 code points.
    if (text.length() / 2 > limits.maxTextChars()) {
      throw tooLong(what, text.codePointCount(0, text.length()));
    }
    int chars = text.codePointCount(0, text.length());
    if (chars > limits.maxTextChars()) {
      throw tooLong(what, chars);
    }
    byte[] utf8 = utf8(text, what);
    checkExampleBytes(utf8.length, what);
    writer(0, utf8.length, what).writeText(label, utf8);
    classCounts[label]++;
    maxTextChars = Math.max(maxTextChars, chars);
    maxTextBytes = Math.max(maxTextBytes, utf8.length);
    totalTextChars += chars;
  }

  private GraftException tooLong(String what, int chars) {
    return new GraftException.ResourceExhausted(
        what
            + " has "
            + chars
            + " characters; one text may have at most "
            + limits.maxTextChars()
            + " (graft.data.max-text-chars)");
  }

  /** Strict: a Java string with an unpaired surrogate has no UTF-8 form. */
  private static byte[] utf8(String text, String what) {
    try {
      ByteBuffer b =
          StandardCharsets.UTF_8
              .newEncoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .encode(CharBuffer.wrap(text));
      byte[] out = new byte[b.remaining()];
      b.get(out);
      return out;
    } catch (CharacterCodingException e) {
      throw new GraftException.InvalidArgument(
          what + " has text that is not valid Unicode (an unpaired surrogate)");
    }
  }

  private DatasetWriter writer(int payloadBytes, int textBytes, String what) {
    if (done) {
      throw new IllegalStateException("dataset already finished or aborted");
    }
    if (writer == null) {
      writer = new DatasetWriter(staging, kind, payloadBytes);
    }
    if (writer.count() + 1 > limits.maxExamples()) {
      throw new GraftException.ResourceExhausted(
          what
              + " is one more than the "
              + limits.maxExamples()
              + " examples a dataset may have (graft.data.max-examples)");
    }
    if (writer.bytesWritten() + writer.recordBytes(textBytes) > limits.maxDatasetBytes()) {
      throw new GraftException.ResourceExhausted(
          what
              + " would make the dataset larger than "
              + limits.maxDatasetBytes()
              + " bytes (graft.data.max-dataset-bytes)");
    }
    return writer;
  }

  private void checkExampleBytes(long bytes, String what) {
    if (bytes > limits.maxExampleBytes()) {
      throw new GraftException.ResourceExhausted(
          what
              + " is "
              + bytes
              + " bytes; one example may have at most "
              + limits.maxExampleBytes()
              + " (graft.data.max-example-bytes)");
    }
  }

  void checkSide(int height, int width, String what) {
    if (height > limits.maxImageSide() || width > limits.maxImageSide()) {
      throw new GraftException.ResourceExhausted(
          what
              + " is "
              + height
              + "x"
              + width
              + "; the largest side allowed is "
              + limits.maxImageSide()
              + " (graft.data.max-image-side)");
    }
  }

  private void requireKind(DatasetKind expected, String what) {
    if (kind != expected) {
      throw new GraftException.InvalidArgument(
          what + " is " + describe(expected) + " but the dataset holds " + plural(kind));
    }
  }

  private static String describe(DatasetKind kind) {
    switch (kind) {
      case IMAGE:
        return "an image";
      case FEATURES:
        return "a feature vector";
      default:
        return "a text";
    }
  }

  /** How a dataset's examples are named in messages: "images", "feature vectors", "texts". */
  static String plural(DatasetKind kind) {
    switch (kind) {
      case IMAGE:
        return "images";
      case FEATURES:
        return "feature vectors";
      default:
        return "texts";
    }
  }

  /**
   * Completes the file. Every declared class needs an example: a class without any could never be
   * learned or evaluated, and is almost always a typo in the class names or the labels.
   */
  public Staged finish() {
    if (writer == null || writer.count() == 0) {
      throw new GraftException.InvalidArgument("the dataset has no examples");
    }
    List<String> empty = new ArrayList<>();
    for (int i = 0; i < classCounts.length; i++) {
      if (classCounts[i] == 0) {
        empty.add(classNames.get(i));
      }
    }
    if (!empty.isEmpty()) {
      throw new GraftException.InvalidArgument(
          "class"
              + (empty.size() > 1 ? "es " : " ")
              + empty
              + " declared but without examples; add examples or remove "
              + (empty.size() > 1 ? "them" : "it")
              + " from the class names");
    }
    List<Long> shape;
    DatasetFile.TextStats text = null;
    switch (kind) {
      case IMAGE:
        shape = imageShape.asList();
        break;
      case FEATURES:
        shape = List.of((long) featureLength);
        break;
      default:
        shape = List.of();
        text =
            new DatasetFile.TextStats(
                maxTextChars, (double) totalTextChars / writer.count(), maxTextBytes);
    }
    List<Long> counts = Arrays.stream(classCounts).boxed().toList();
    DatasetFile.Footer footer =
        new DatasetFile.Footer(
            DatasetFile.versionOf(kind),
            kind,
            DatasetFile.dtypeOf(kind),
            shape,
            writer.count(),
            classNames,
            counts,
            text);
    String sha256 = writer.finish(footer);
    writer.close();
    done = true;
    long size;
    try {
      size = Files.size(staging);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return new Staged(staging, kind, classNames, counts, writer.count(), shape, text, sha256, size);
  }

  /** Closes and deletes the staging file; safe to call more than once and after finish. */
  public void abort() {
    done = true;
    if (writer != null) {
      try {
        writer.close();
      } catch (RuntimeException e) {
        LOG.debug("closing an aborted dataset file", e);
      }
    }
    try {
      Files.deleteIfExists(staging);
    } catch (IOException e) {
      LOG.warnf("could not delete the aborted dataset file %s: %s", staging, e);
    }
  }

  /** Aborts unless finished: use in try-with-resources around the whole import. */
  @Override
  public void close() {
    if (!done) {
      abort();
    }
  }

  /** A complete dataset file waiting to be moved into place and recorded. */
  public record Staged(
      Path file,
      DatasetKind kind,
      List<String> classNames,
      List<Long> classCounts,
      long count,
      List<Long> shape,
      DatasetFile.TextStats textStats,
      String sha256,
      long sizeBytes) {}
}
