package dev.graft.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a stored dataset for training: random access by index over a memory-mapped file, examples
 * as float arrays. Images go through a {@link Preprocessing} (the same code serving applies to a
 * request image), so a model sees identical inputs in training and in serving.
 *
 * <p>Text datasets ({@link DatasetKind#TEXT}, format version 2) are read as strings, for a
 * tokenizer: {@link #text(int)} and {@link #label(int)}, or the {@link TextExamples} view of {@link
 * #textExamples()} ({@code int label(long i)}, {@code String text(long i)}, the length statistics).
 * {@link #labels()} and so {@link Splits} work for every kind; the float views ({@link #example},
 * {@link #batch}, {@link #inputShape}) refuse texts with an IllegalStateException.
 *
 * <p>Reads are thread-safe (absolute reads of read-only mappings), so several loader threads may
 * share one reader. {@link #close()} closes the file; the mapping itself is released by the JVM
 * once unreachable, which is why the reader must not be used after close.
 */
public final class DatasetReader implements AutoCloseable {

  /** Mapped segments stay below 2 GiB, the most one mapping can address. */
  private static final long SEGMENT_LIMIT = Integer.MAX_VALUE;

  /**
   * Text records start in windows of 1 GiB; each window is mapped with the longest record beyond
   * it, so that every record lies inside the mapping of the window it starts in.
   */
  static final long TEXT_WINDOW = 1L << 30;

  private final Path file;
  private final FileChannel channel;
  private final DatasetFile.Footer footer;
  private final int recordBytes;
  private final int recordsPerSegment;
  private final MappedByteBuffer[] segments;
  private final int count;
  private final Region textRecords;
  private final Region textOffsets;
  private final long textRecordsEnd;

  private DatasetReader(Path file, long segmentLimit, long textWindow) throws IOException {
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
      if (footer.count() > Integer.MAX_VALUE || footer.count() < 0) {
        throw corrupt("declares " + footer.count() + " examples");
      }
      this.count = (int) footer.count();
      if (footer.kind() == DatasetKind.TEXT) {
        if (footer.version() != 2 || footer.text() == null) {
          throw corrupt("holds texts but is not a version-2 file with text statistics");
        }
        long offsetsStart = recordsEnd - DatasetFile.OFFSET_BYTES * footer.count();
        long maxRecord = DatasetFile.TEXT_HEADER_BYTES + footer.text().maxBytes();
        if (offsetsStart < 0 || offsetsStart < footer.count() * DatasetFile.TEXT_HEADER_BYTES) {
          throw corrupt("holds " + recordsEnd + " bytes for " + footer.count() + " texts");
        }
        if (textWindow + maxRecord > SEGMENT_LIMIT) {
          throw corrupt("has a text of " + footer.text().maxBytes() + " bytes, too long to map");
        }
        this.textRecordsEnd = offsetsStart;
        this.textRecords = new Region(channel, 0, offsetsStart, textWindow, maxRecord);
        this.textOffsets =
            new Region(
                channel,
                offsetsStart,
                recordsEnd - offsetsStart,
                textWindow,
                DatasetFile.OFFSET_BYTES);
        this.recordBytes = 0;
        this.recordsPerSegment = 0;
        this.segments = new MappedByteBuffer[0];
        return;
      }
      this.textRecords = null;
      this.textOffsets = null;
      this.textRecordsEnd = 0;
      this.recordBytes = footer.recordBytes();
      if (footer.count() * recordBytes != recordsEnd) {
        throw corrupt("holds " + recordsEnd + " record bytes for " + footer.count() + " examples");
      }
      this.recordsPerSegment = (int) Math.max(1, segmentLimit / recordBytes);
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
    return open(file, SEGMENT_LIMIT, TEXT_WINDOW);
  }

  /** Opens with smaller mappings, so that tests can cross segment boundaries on small files. */
  static DatasetReader open(Path file, long segmentLimit, long textWindow) {
    try {
      return new DatasetReader(file, segmentLimit, textWindow);
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

  /** Stored shape of one example: [C, H, W] for images, [length] for features, [] for texts. */
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
    if (textRecords != null) {
      return textRecords.getInt(textRecordStart(index));
    }
    return segment(index).getInt(offset(index));
  }

  /** The text of example {@code index} of a text dataset. */
  public String text(int index) {
    requireKind(DatasetKind.TEXT);
    long start = textRecordStart(index);
    int length = textRecords.getInt(start + 4);
    if (length < 0
        || length > footer.text().maxBytes()
        || start + DatasetFile.TEXT_HEADER_BYTES + length > textRecordsEnd) {
      throw corrupt("has a text record of " + length + " bytes at " + start);
    }
    byte[] utf8 = new byte[length];
    textRecords.get(start + DatasetFile.TEXT_HEADER_BYTES, utf8);
    return new String(utf8, StandardCharsets.UTF_8);
  }

  /** Length statistics of a text dataset, as recorded when it was stored. */
  public DatasetFile.TextStats textStats() {
    requireKind(DatasetKind.TEXT);
    return footer.text();
  }

  /** A text dataset as labelled strings, indexed by long; see {@link TextExamples}. */
  public TextExamples textExamples() {
    requireKind(DatasetKind.TEXT);
    return new TextExamples(this);
  }

  private long textRecordStart(int index) {
    if (index < 0 || index >= count) {
      throw new IndexOutOfBoundsException("example " + index + " of " + count);
    }
    long start = textOffsets.getLong((long) index * DatasetFile.OFFSET_BYTES);
    if (start < 0 || start > textRecordsEnd - DatasetFile.TEXT_HEADER_BYTES) {
      throw corrupt("has the offset " + start + " for example " + index);
    }
    return start;
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
      requireNotText();
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
    requireNotText();
    if (preprocessing != null) {
      throw new IllegalArgumentException(
          "a feature dataset takes no image preprocessing; pass null");
    }
  }

  private void requireNotText() {
    if (kind() == DatasetKind.TEXT) {
      throw new IllegalStateException(
          "dataset file "
              + file
              + " holds texts, which have no float form: read them with text(i) or"
              + " textExamples() and tokenize them");
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
   * A read-only region of the file mapped in windows: window w holds the bytes from {@code w *
   * window} to {@code (w + 1) * window + overlap}, so any read of at most {@code overlap} bytes
   * that starts in a window lies inside its mapping.
   */
  private static final class Region {
    private final long window;
    private final MappedByteBuffer[] maps;

    Region(FileChannel channel, long start, long length, long window, long overlap)
        throws IOException {
      this.window = window;
      int n = (int) Math.max(1, (length + window - 1) / window);
      this.maps = new MappedByteBuffer[n];
      for (int w = 0; w < n; w++) {
        long from = w * window;
        long size = Math.max(0, Math.min(length - from, window + overlap));
        maps[w] = channel.map(FileChannel.MapMode.READ_ONLY, start + from, size);
        maps[w].order(ByteOrder.LITTLE_ENDIAN);
      }
    }

    int getInt(long at) {
      return maps[(int) (at / window)].getInt((int) (at % window));
    }

    long getLong(long at) {
      return maps[(int) (at / window)].getLong((int) (at % window));
    }

    void get(long at, byte[] into) {
      maps[(int) (at / window)].get((int) (at % window), into);
    }
  }

  /**
   * A batch: {@code inputs} holds {@code labels.length} examples of {@code inputShape}, row-major.
   */
  public record Batch(float[] inputs, int[] labels, long[] inputShape) {}
}
