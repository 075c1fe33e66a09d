package dev.graft.data;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Appends fixed-size records to a new {@link DatasetFile}, hashing every byte as it goes, so that
 * nothing but one record is ever held in memory.
 */
final class DatasetWriter implements AutoCloseable {

  private final FileChannel channel;
  private final OutputStream out;
  private final MessageDigest sha256;
  private final ByteBuffer record;
  private final DatasetKind kind;
  private final int payloadBytes;
  private long bytes;
  private long count;

  DatasetWriter(Path file, DatasetKind kind, int payloadBytes) {
    this.kind = kind;
    this.payloadBytes = payloadBytes;
    this.record =
        ByteBuffer.allocate(DatasetFile.LABEL_BYTES + payloadBytes).order(ByteOrder.LITTLE_ENDIAN);
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
  }

  int recordBytes() {
    return record.capacity();
  }

  long bytesWritten() {
    return bytes;
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

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close the dataset file", e);
    }
  }
}
