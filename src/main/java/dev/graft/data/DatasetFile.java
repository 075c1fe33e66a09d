package dev.graft.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The stored dataset format (version 1), one file per dataset, {@code <uuid>.gds} under {@code
 * <data dir>/datasets}:
 *
 * <pre>
 * records   count x [ int32 label, little-endian | payload ]
 *             IMAGE:    uint8 pixels, channel first (C x H x W)
 *             FEATURES: float32 little-endian x length
 * footer    UTF-8 JSON: {"version":1,"kind":..,"dtype":"uint8"|"float32","shape":[..],
 *                        "count":..,"classNames":[..],"classCounts":[..]}
 * trailer   int32 little-endian footer length | 8 bytes "GRAFTDS1"
 * </pre>
 *
 * Records have a fixed size, so example i is at {@code i * recordBytes} and the file can be
 * memory-mapped for random access. The footer is at the end because the count is known only when
 * the last example has arrived, and the file is hashed as it is written: the dataset's sha256 is
 * that of the whole file ({@code sha256sum} gives the same). Names and times are not in the file,
 * so equal content gives an equal hash.
 */
public final class DatasetFile {

  static final byte[] MAGIC = "GRAFTDS1".getBytes(StandardCharsets.US_ASCII);
  static final int TRAILER_BYTES = 4 + MAGIC.length;
  static final int LABEL_BYTES = 4;
  static final String EXTENSION = ".gds";

  private static final ObjectMapper JSON = new ObjectMapper();

  private DatasetFile() {}

  /** The footer: what the records are. */
  public record Footer(
      int version,
      DatasetKind kind,
      String dtype,
      List<Long> shape,
      long count,
      List<String> classNames,
      List<Long> classCounts) {

    /** Bytes of one example's payload. */
    public int payloadBytes() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return Math.toIntExact(kind == DatasetKind.IMAGE ? n : 4 * n);
    }

    public int recordBytes() {
      return LABEL_BYTES + payloadBytes();
    }

    byte[] toBytes() {
      try {
        return JSON.writeValueAsBytes(this);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }

    static Footer parse(byte[] json) {
      try {
        return JSON.readValue(json, Footer.class);
      } catch (java.io.IOException e) {
        throw new IllegalStateException("dataset footer is not valid: " + e.getMessage(), e);
      }
    }
  }

  static String dtypeOf(DatasetKind kind) {
    return kind == DatasetKind.IMAGE ? "uint8" : "float32";
  }
}
