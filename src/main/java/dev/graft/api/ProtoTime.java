package dev.graft.api;

import com.google.protobuf.Timestamp;
import java.time.Instant;

/** Instants as protobuf timestamps. */
final class ProtoTime {

  private ProtoTime() {}

  static Timestamp of(Instant instant) {
    if (instant == null) {
      return Timestamp.getDefaultInstance();
    }
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano())
        .build();
  }
}
