package dev.graft.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a stored dataset for training: random access by index over a memory-mapped file, examples
 * as float arrays. Images go through a {@link Preprocessing} (the same code serving applies to a
 * request image), so a model sees identical inputs in training and in serving.
 *
 * <p>Reads are thread-safe (absolute reads of read-only mappings), so several loader threads may
 * share one reader. {@link #close()} closes the file; the mapping itself is released by the JVM
 * once unreachable, which is why the reader must not be used after close.
 */
public final class DatasetReader implements AutoCloseable {

  /** Mapped segments stay below 2 GiB, the most one mapping can address. */
  private static final long SEGMENT_LIMIT = Integer.MAX_VALUE;

  private final Path file;
  private final FileChannel channel;
  private final DatasetFile.Footer footer;
  private final int recordBytes;
  private final int recordsPerSegment;
  private final MappedByteBuffer[] segments;
  private final int count;

  private DatasetReader(Path file) throws IOException {
    this.file = file;
    this.channel = FileChannel.open(file, StandardOpenOption.READ);
    try {
      long size = channel.size();
      if (size < DatasetFile.TRAILER_BYTES) {
        throw corrupt("is too short");
      }
      ByteBuffer trailer =
          ByteBuffer.allocate(DatasetFile.TRAILER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      readFully(trailer, size - DatasetFile.TRAILER_BYTES);
      int footerLength = trailer.getInt(0);
      byte[] magic = Arrays.copyOfRange(trailer.array(), 4, DatasetFile.TRAILER_BYTES);
      if (!Arrays.equals(magic, DatasetFile.MAGIC)
          || footerLength <= 0
          || footerLength > size - DatasetFile.TRAILER_BYTES) {
        throw corrupt("has no dataset trailer");
      }
      long recordsEnd = size - DatasetFile.TRAILER_BYTES - footerLength;
      ByteBuffer json = ByteBuffer.allocate(footerLength);
      readFully(json, recordsEnd);
      this.footer = DatasetFile.Footer.parse(json.array());
      this.recordBytes = footer.recordBytes();
      if (footer.count() * recordBytes != recordsEnd || footer.count() > Integer.MAX_VALUE) {
        throw corrupt("holds " + recordsEnd + " record bytes for " + footer.count() + " examples");
      }
      this.count = (int) footer.count();
      this.recordsPerSegment = (int) Math.max(1, SEGMENT_LIMIT / recordBytes);
      int n = (int) ((count + (long) recordsPerSegment - 1) / recordsPerSegment);
      this.segments = new MappedByteBuffer[n];
      for (int s = 0; s < n; s++) {
        long first = (long) s * recordsPerSegment;
        long records = Math.min(recordsPerSegment, count - first);
        segments[s] =
            channel.map(FileChannel.MapMode.READ_ONLY, first * recordBytes, records * recordBytes);
        segments[s].order(ByteOrder.LITTLE_ENDIAN);
      }
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** Opens a stored dataset file. */
  public static DatasetReader open(Path file) {
    try {
      return new DatasetReader(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open dataset file " + file, e);
    }
  }

  private void readFully(ByteBuffer buffer, long position) throws IOException {
    while (buffer.hasRemaining()) {
      if (channel.read(buffer, position + buffer.position()) < 0) {
        throw corrupt("ends early");
      }
    }
  }

  private IllegalStateException corrupt(String what) {
    return new IllegalStateException("dataset file " + file + " " + what);
  }

  public DatasetKind kind() {
    return footer.kind();
  }

  /** Class names in label order. */
  public List<String> classNames() {
    return footer.classNames();
  }

  /** Number of examples per class, in label order. */
  public List<Long> classCounts() {
    return footer.classCounts();
  }

  /** Stored shape of one example: [C, H, W] for images, [length] for features. */
  public List<Long> shape() {
    return footer.shape();
  }

  /** The stored image shape; only for image datasets. */
  public ImageShape imageShape() {
    requireKind(DatasetKind.IMAGE);
    List<Long> s = footer.shape();
    return new ImageShape(s.get(0).intValue(), s.get(1).intValue(), s.get(2).intValue());
  }

  /** Number of examples. */
  public int size() {
    return count;
  }

  private ByteBuffer segment(int index) {
    if (index < 0 || index >= count) {
      throw new IndexOutOfBoundsException("example " + index + " of " + count);
    }
    return segments[index / recordsPerSegment];
  }

  private int offset(int index) {
    return (index % recordsPerSegment) * recordBytes;
  }

  /** The label (class index) of example {@code index}. */
  public int label(int index) {
    return segment(index).getInt(offset(index));
  }

  /** Every label, in example order. */
  public int[] labels() {
    int[] labels = new int[count];
    for (int i = 0; i < count; i++) {
      labels[i] = label(i);
    }
    return labels;
  }

  /** The stored pixels of an image example. */
  public Pixels pixels(int index) {
    requireKind(DatasetKind.IMAGE);
    byte[] data = new byte[footer.payloadBytes()];
    segment(index).get(offset(index) + DatasetFile.LABEL_BYTES, data);
    List<Long> s = footer.shape();
    return new Pixels(s.get(0).intValue(), s.get(1).intValue(), s.get(2).intValue(), data);
  }

  /** The stored vector of a feature example. */
  public float[] features(int index) {
    requireKind(DatasetKind.FEATURES);
    float[] out = new float[footer.payloadBytes() / 4];
    ByteBuffer segment = segment(index);
    int at = offset(index) + DatasetFile.LABEL_BYTES;
    for (int i = 0; i < out.length; i++) {
      out[i] = segment.getFloat(at + 4 * i);
    }
    return out;
  }

  /**
   * The preprocessing that feeds stored images unchanged in shape, pixels scaled to [0, 1]; {@code
   * null} for feature datasets, whose vectors are used as stored.
   */
  public Preprocessing rawPreprocessing() {
    if (kind() != DatasetKind.IMAGE) {
      return null;
    }
    ImageShape s = imageShape();
    return Preprocessing.unitScale(s.channels(), s.height(), s.width());
  }

  /** Floats per example as {@link #example} returns them. */
  public int inputSize(Preprocessing preprocessing) {
    if (kind() == DatasetKind.IMAGE) {
      return preprocessingFor(preprocessing).size();
    }
    requireNoPreprocessing(preprocessing);
    return footer.payloadBytes() / 4;
  }

  /**
   * Example {@code index} as model input: an image through {@code preprocessing} (null: {@link
   * #rawPreprocessing()}), a feature vector as stored ({@code preprocessing} must be null).
   */
  public float[] example(int index, Preprocessing preprocessing) {
    if (kind() == DatasetKind.IMAGE) {
      return preprocessingFor(preprocessing).apply(pixels(index));
    }
    requireNoPreprocessing(preprocessing);
    return features(index);
  }

  /**
   * The examples at {@code indices}, in that order, as one row-major float array (for a tensor of
   * shape [indices.length, ...inputShape]) with their labels.
   */
  public Batch batch(int[] indices, Preprocessing preprocessing) {
    int size = inputSize(preprocessing);
    float[] inputs = new float[Math.multiplyExact(indices.length, size)];
    int[] labels = new int[indices.length];
    for (int i = 0; i < indices.length; i++) {
      System.arraycopy(example(indices[i], preprocessing), 0, inputs, i * size, size);
      labels[i] = label(indices[i]);
    }
    return new Batch(inputs, labels, inputShape(preprocessing));
  }

  /** Shape of one example as model input. */
  public long[] inputShape(Preprocessing preprocessing) {
    if (kind() == DatasetKind.IMAGE) {
      Preprocessing p = preprocessingFor(preprocessing);
      return new long[] {p.channels(), p.height(), p.width()};
    }
    requireNoPreprocessing(preprocessing);
    return new long[] {footer.payloadBytes() / 4};
  }

  private Preprocessing preprocessingFor(Preprocessing preprocessing) {
    return preprocessing == null ? rawPreprocessing() : preprocessing;
  }

  private void requireNoPreprocessing(Preprocessing preprocessing) {
    if (preprocessing != null) {
      throw new IllegalArgumentException(
          "a feature dataset takes no image preprocessing; pass null");
    }
  }

  private void requireKind(DatasetKind kind) {
    if (kind() != kind) {
      throw new IllegalStateException("dataset file " + file + " holds " + kind() + " examples");
    }
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A batch: {@code inputs} holds {@code labels.length} examples of {@code inputShape}, row-major.
   */
  public record Batch(float[] inputs, int[] labels, long[] inputShape) {}
}
