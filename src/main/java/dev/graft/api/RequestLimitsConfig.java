package dev.graft.api;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** Limits every gRPC call is held to, whatever the service. */
@ConfigMapping(prefix = "graft.grpc")
public interface RequestLimitsConfig {

  /**
   * Longest a unary call may take on the server; then it is answered DEADLINE_EXCEEDED (work
   * already running finishes, its answer is dropped). Streams (uploads, downloads, WatchRun,
   * PredictStream) are not limited by it.
   */
  @WithDefault("60s")
  Duration requestTimeout();

  /** A request message at least this large counts against {@link #maxLargeMessageBytes()}. */
  @WithDefault("1048576")
  int largeMessageBytes();

  /**
   * Most bytes of large request messages being worked on at once (default three 64 MiB messages); a
   * large request beyond it is answered RESOURCE_EXHAUSTED at once, so a few huge requests cannot
   * take the memory and cores that small ones need.
   */
  @WithDefault("201326592")
  long maxLargeMessageBytes();
}
