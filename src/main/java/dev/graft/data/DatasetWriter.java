package dev.graft.data;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.jboss.logging.Logger;

/**
 * Appends records to a new {@link DatasetFile}, hashing every byte as it goes, so that nothing but
 * one record is ever held in memory: fixed-size records for images and features, variable-length
 * ones for texts, whose offsets go to a side file ({@code <file>.offsets}) that is appended (and
 * deleted) when the dataset is finished.
 */
final class DatasetWriter implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(DatasetWriter.class);

  private final Path file;
  private final FileChannel channel;
  private final OutputStream out;
  private final MessageDigest sha256;
  private final ByteBuffer record;
  private final DatasetKind kind;
  private final int payloadBytes;
  private final Path offsetsFile;
  private final DataOutputStream offsets;
  private long bytes;
  private long count;

  /**
   * @param payloadBytes the fixed payload of an image or feature record; ignored for texts
   */
  DatasetWriter(Path file, DatasetKind kind, int payloadBytes) {
    this.file = file;
    this.kind = kind;
    this.payloadBytes = kind == DatasetKind.TEXT ? 0 : payloadBytes;
    this.record =
        ByteBuffer.allocate(
                kind == DatasetKind.TEXT
                    ? DatasetFile.TEXT_HEADER_BYTES
                    : DatasetFile.LABEL_BYTES + payloadBytes)
            .order(ByteOrder.LITTLE_ENDIAN);
    try {
      this.sha256 = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try {
      this.channel =
          FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + file, e);
    }
    this.out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
    if (kind == DatasetKind.TEXT) {
      this.offsetsFile = file.resolveSibling(file.getFileName() + ".offsets");
      try {
        this.offsets =
            new DataOutputStream(
                new BufferedOutputStream(
                    Files.newOutputStream(offsetsFile, StandardOpenOption.CREATE_NEW), 1 << 16));
      } catch (IOException e) {
        closeQuietly();
        throw new UncheckedIOException("cannot create " + offsetsFile, e);
      }
    } else {
      this.offsetsFile = null;
      this.offsets = null;
    }
  }

  /**
   * Bytes of the next fixed-size record; for texts, the bytes one more text of this length adds.
   */
  int recordBytes(int textBytes) {
    return kind == DatasetKind.TEXT
        ? DatasetFile.TEXT_HEADER_BYTES + textBytes + DatasetFile.OFFSET_BYTES
        : record.capacity();
  }

  /** Bytes the file will hold before its footer, so far (a text dataset's offsets included). */
  long bytesWritten() {
    return kind == DatasetKind.TEXT ? bytes + DatasetFile.OFFSET_BYTES * count : bytes;
  }

  long count() {
    return count;
  }

  void writeImage(int label, byte[] pixels) {
    if (kind != DatasetKind.IMAGE || pixels.length != payloadBytes) {
      throw new IllegalArgumentException("image record of " + pixels.length + " bytes");
    }
    record.clear();
    record.putInt(label).put(pixels);
    emit();
  }

  void writeFeatures(int label, float[] features) {
    if (kind != DatasetKind.FEATURES || features.length * 4 != payloadBytes) {
      throw new IllegalArgumentException("feature record of " + features.length + " floats");
    }
    record.clear();
    record.putInt(label);
    record.asFloatBuffer().put(features);
    record.position(record.capacity());
    emit();
  }

  /** Appends one text record: label, length, then the UTF-8 bytes. */
  void writeText(int label, byte[] utf8) {
    if (kind != DatasetKind.TEXT) {
      throw new IllegalArgumentException("text record in a " + kind + " dataset");
    }
    try {
      // Reversed to little-endian: the table is read by the same LE mapping as the records.
      offsets.writeLong(Long.reverseBytes(bytes));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the dataset's offsets", e);
    }
    record.clear();
    record.putInt(label).putInt(utf8.length);
    write(record.array(), record.capacity());
    write(utf8, utf8.length);
    count++;
  }

  private void emit() {
    write(record.array(), record.capacity());
    count++;
  }

  private void write(byte[] data, int length) {
    try {
      out.write(data, 0, length);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the dataset file", e);
    }
    sha256.update(data, 0, length);
    bytes += length;
  }

  /** Writes footer and trailer, forces the file to disk and returns its sha256 (hex). */
  String finish(DatasetFile.Footer footer) {
    if (offsets != null) {
      appendOffsets();
    }
    byte[] json = footer.toBytes();
    write(json, json.length);
    ByteBuffer trailer =
        ByteBuffer.allocate(DatasetFile.TRAILER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    trailer.putInt(json.length).put(DatasetFile.MAGIC);
    write(trailer.array(), trailer.capacity());
    try {
      out.flush();
      channel.force(true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the dataset file", e);
    }
    return HexFormat.of().formatHex(sha256.digest());
  }

  private void appendOffsets() {
    try {
      offsets.close();
      try (InputStream in = new BufferedInputStream(Files.newInputStream(offsetsFile), 1 << 16)) {
        byte[] buffer = new byte[1 << 16];
        int n;
        while ((n = in.read(buffer)) > 0) {
          write(buffer, n);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append the offsets to " + file, e);
    }
  }

  private void closeQuietly() {
    try {
      channel.close();
    } catch (IOException e) {
      LOG.debug("closing a dataset file that could not be set up", e);
    }
  }

  /** Closes the file and deletes the offsets side file, finished or not. */
  @Override
  public void close() {
    try {
      if (offsets != null) {
        try {
          offsets.close();
        } catch (IOException e) {
          LOG.debug("closing the offsets side file", e);
        }
        Files.deleteIfExists(offsetsFile);
      }
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close the dataset file", e);
    }
  }
}
