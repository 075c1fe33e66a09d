package dev.graft.access;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.OptionalInt;

/**
 * Per-client limits on gRPC and on the HTTP API. A client is its API key when auth is on and the
 * key is known, else its peer address. Off (0) by default.
 */
@ConfigMapping(prefix = "graft.limits")
public interface LimitsConfig {

  /**
   * Calls a client may start per second, on average (gRPC calls and {@code /api/*} requests
   * together; a stream counts once). 0: no rate limit.
   */
  @WithDefault("0")
  double requestsPerSecond();

  /**
   * Calls a client may start at once after being idle; default: requests-per-second, at least 1.
   */
  OptionalInt burst();

  /**
   * Most bytes one UploadDataset or ImportBaseModel stream may send (its messages' sizes together).
   * 0: no limit beyond {@code graft.data.max-dataset-bytes} and the base-model import's own.
   */
  @WithDefault("0")
  long maxUploadBytes();
}
