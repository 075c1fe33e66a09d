package dev.graft.data;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The stored dataset format, one file per dataset, {@code <uuid>.gds} under {@code <data
 * dir>/datasets}. Version 1 (images and feature vectors) has fixed-size records:
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
 * memory-mapped for random access.
 *
 * <p>Version 2 (texts) has records of their own length, found through an offsets table:
 *
 * <pre>
 * records   count x [ int32 label | int32 byteLength | byteLength bytes of UTF-8 ], little-endian
 * offsets   count x int64 little-endian: where record i starts (from the start of the file)
 * footer    UTF-8 JSON: {"version":2,"kind":"TEXT","dtype":"utf8","shape":[],"count":..,
 *                        "classNames":[..],"classCounts":[..],
 *                        "text":{"maxChars":..,"meanChars":..,"maxBytes":..}}
 * trailer   as in version 1
 * </pre>
 *
 * The offsets table sits right before the footer, so example i is still one lookup away in the
 * memory-mapped file. Characters are Unicode code points.
 *
 * <p>The footer is at the end because the count is known only when the last example has arrived,
 * and the file is hashed as it is written: the dataset's sha256 is that of the whole file ({@code
 * sha256sum} gives the same). Names and times are not in the file, so equal content gives an equal
 * hash.
 */
public final class DatasetFile {

  static final byte[] MAGIC = "GRAFTDS1".getBytes(StandardCharsets.US_ASCII);
  static final int TRAILER_BYTES = 4 + MAGIC.length;
  static final int LABEL_BYTES = 4;

  /** A text record's header: label and byte length. */
  static final int TEXT_HEADER_BYTES = 8;

  static final int OFFSET_BYTES = 8;
  static final String EXTENSION = ".gds";

  private static final ObjectMapper JSON = new ObjectMapper();

  private DatasetFile() {}

  /**
   * The footer: what the records are.
   *
   * @param text text datasets only (null otherwise, and then absent from the JSON, so version-1
   *     footers are byte for byte what they were)
   */
  public record Footer(
      int version,
      DatasetKind kind,
      String dtype,
      List<Long> shape,
      long count,
      List<String> classNames,
      List<Long> classCounts,
      @JsonInclude(JsonInclude.Include.NON_NULL) TextStats text) {

    /** Bytes of one example's payload; fixed-size (version 1) kinds only. */
    public int payloadBytes() {
      if (kind == DatasetKind.TEXT) {
        throw new IllegalStateException("text records have no fixed size");
      }
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

  /**
   * How long the texts of a text dataset are.
   *
   * @param maxChars the longest text, in characters (code points)
   * @param meanChars the mean length in characters
   * @param maxBytes the longest text in UTF-8 bytes
   */
  public record TextStats(long maxChars, double meanChars, long maxBytes) {}

  static int versionOf(DatasetKind kind) {
    return kind == DatasetKind.TEXT ? 2 : 1;
  }

  static String dtypeOf(DatasetKind kind) {
    switch (kind) {
      case IMAGE:
        return "uint8";
      case FEATURES:
        return "float32";
      default:
        return "utf8";
    }
  }
}
