package dev.graft.access;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Map;

/** API-key authentication. Off by default: every caller then has role {@code all}. */
@ConfigMapping(prefix = "graft.auth")
public interface AuthConfig {

  /** When true every gRPC call except health and reflection needs a known API key. */
  @WithDefault("false")
  boolean enabled();

  /**
   * The keys, by the lower-case hex SHA-256 of the key (never the key itself), each to its role:
   * {@code graft.auth.keys."<sha256-hex>"=reader|trainer|admin}.
   */
  Map<String, String> keys();
}
