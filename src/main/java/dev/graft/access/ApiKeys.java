package dev.graft.access;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** The known API keys, held only as SHA-256 digests and compared in constant time. */
public final class ApiKeys {

  /** A caller whose key was found: its role and the key's fingerprint for the audit log. */
  public record Caller(Role role, String fingerprint) {}

  private final Map<byte[], Role> digests = new LinkedHashMap<>();

  public ApiKeys(Map<String, String> roleBySha256Hex) {
    roleBySha256Hex.forEach(
        (hex, role) -> {
          String clean = hex.trim().toLowerCase(java.util.Locale.ROOT);
          if (!clean.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException(
                "graft.auth.keys must be keyed by the 64 hex digits of the key's SHA-256");
          }
          digests.put(HexFormat.of().parseHex(clean), Role.parse(role));
        });
  }

  /** The caller holding {@code key}, if it is one of ours. */
  public Optional<Caller> find(String key) {
    byte[] digest = sha256(key);
    Role found = null;
    // look at every entry so the time taken does not say which key came close
    for (Map.Entry<byte[], Role> entry : digests.entrySet()) {
      if (MessageDigest.isEqual(entry.getKey(), digest)) {
        found = entry.getValue();
      }
    }
    return Optional.ofNullable(found)
        .map(role -> new Caller(role, HexFormat.of().formatHex(digest).substring(0, 8)));
  }

  /** The value {@code authorization: Bearer <key>} or {@code x-api-key: <key>} carries. */
  public static Optional<String> keyFrom(String authorization, String apiKey) {
    if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String key = authorization.substring(7).trim();
      return key.isEmpty() ? Optional.empty() : Optional.of(key);
    }
    if (apiKey != null && !apiKey.isBlank()) {
      return Optional.of(apiKey.trim());
    }
    return Optional.empty();
  }

  public static byte[] sha256(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }
}
