package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads the IDX format of MNIST and Fashion-MNIST: an image file (magic 0x00000803: unsigned bytes,
 * 3 dimensions N x H x W) and a label file (magic 0x00000801: N unsigned bytes), each gzipped or
 * not. Both are streamed: one image is in memory at a time.
 */
final class IdxImporter {

  static final int IMAGES_MAGIC = 0x00000803;
  static final int LABELS_MAGIC = 0x00000801;

  private IdxImporter() {}

  static void read(Path images, Path labels, DatasetBuilder builder) {
    try (DataInputStream in = open(images);
        DataInputStream lab = open(labels)) {
      int magic = in.readInt();
      if (magic != IMAGES_MAGIC) {
        throw new GraftException.InvalidArgument(
            "IDX image file "
                + images.getFileName()
                + " starts with magic 0x"
                + Integer.toHexString(magic)
                + "; expected 0x00000803 (unsigned bytes, 3 dimensions)");
      }
      int n = in.readInt();
      int h = in.readInt();
      int w = in.readInt();
      int labelMagic = lab.readInt();
      if (labelMagic != LABELS_MAGIC) {
        throw new GraftException.InvalidArgument(
            "IDX label file "
                + labels.getFileName()
                + " starts with magic 0x"
                + Integer.toHexString(labelMagic)
                + "; expected 0x00000801 (unsigned bytes, 1 dimension)");
      }
      int nLabels = lab.readInt();
      if (n != nLabels || n < 0 || h < 1 || w < 1) {
        throw new GraftException.InvalidArgument(
            "IDX files disagree: "
                + images.getFileName()
                + " holds "
                + n
                + " images of "
                + h
                + "x"
                + w
                + ", "
                + labels.getFileName()
                + " "
                + nLabels
                + " labels");
      }
      // The dimensions come from the file: check them before allocating buffers.
      builder.checkSide(h, w, "the IDX images");
      for (int i = 0; i < n; i++) {
        String what = "IDX example " + i;
        byte[] pixels = new byte[h * w];
        try {
          in.readFully(pixels);
          int label = lab.readUnsignedByte();
          builder.addImage(builder.label(label, what), new Pixels(1, h, w, pixels), what);
        } catch (EOFException e) {
          throw new GraftException.InvalidArgument(
              "IDX files end after " + i + " of the " + n + " examples their headers announce");
        }
      }
    } catch (EOFException e) {
      throw new GraftException.InvalidArgument("IDX file ends inside its header");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Opens a file, unzipping it when it starts with the gzip magic bytes. */
  static DataInputStream open(Path file) throws IOException {
    InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    raw.mark(2);
    int b0 = raw.read();
    int b1 = raw.read();
    raw.reset();
    if (b0 == 0x1f && b1 == 0x8b) {
      raw = new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16);
    }
    return new DataInputStream(raw);
  }
}
