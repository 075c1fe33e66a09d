package dev.graft.access;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Who a caller is for the limits, and one token bucket per caller. Shared by gRPC and HTTP, so a
 * client has one budget whichever port it calls.
 */
@ApplicationScoped
public class ClientLimits {

  /** Beyond this many buckets, those of clients idle long enough to be full again are dropped. */
  static final int MAX_IDLE_BUCKETS = 10_000;

  private final double perSecond;
  private final double burst;
  private final long maxUploadBytes;
  private final boolean authEnabled;
  private final ApiKeys keys;
  private final LongSupplier nanoTime;
  private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

  @Inject
  ClientLimits(LimitsConfig limits, AuthConfig auth) {
    this(
        limits.requestsPerSecond(),
        limits.burst().orElse((int) Math.max(1, Math.ceil(limits.requestsPerSecond()))),
        limits.maxUploadBytes(),
        auth.enabled(),
        new ApiKeys(auth.keys()),
        System::nanoTime);
  }

  public ClientLimits(
      double perSecond,
      int burst,
      long maxUploadBytes,
      boolean authEnabled,
      ApiKeys keys,
      LongSupplier nanoTime) {
    if (perSecond < 0 || burst < 1 || maxUploadBytes < 0) {
      throw new IllegalArgumentException(
          "graft.limits.requests-per-second and max-upload-bytes must be at least 0 and"
              + " graft.limits.burst at least 1");
    }
    this.perSecond = perSecond;
    this.burst = burst;
    this.maxUploadBytes = maxUploadBytes;
    this.authEnabled = authEnabled;
    this.keys = keys;
    this.nanoTime = nanoTime;
  }

  public boolean rateLimited() {
    return perSecond > 0;
  }

  /** Most bytes of one upload stream; 0 for no limit. */
  public long maxUploadBytes() {
    return maxUploadBytes;
  }

  /**
   * "key 1a2b3c4d" for a known key when auth is on, else "peer 10.0.0.7": an unknown key must not
   * buy a fresh bucket.
   */
  public String client(String authorization, String apiKey, String peerHost) {
    if (authEnabled) {
      var caller = ApiKeys.keyFrom(authorization, apiKey).flatMap(keys::find);
      if (caller.isPresent()) {
        return "key " + caller.get().fingerprint();
      }
    }
    return "peer " + peerHost;
  }

  /**
   * Takes one call from {@code client}'s bucket: empty if allowed, else the milliseconds to wait.
   */
  public OptionalLong acquire(String client) {
    if (!rateLimited()) {
      return OptionalLong.empty();
    }
    long now = nanoTime.getAsLong();
    Bucket bucket = buckets.get(client);
    if (bucket == null) {
      if (buckets.size() >= MAX_IDLE_BUCKETS) {
        buckets.values().removeIf(b -> b.isFull(now));
      }
      bucket = buckets.computeIfAbsent(client, c -> new Bucket(burst, now));
    }
    return bucket.take(now);
  }

  /** The RESOURCE_EXHAUSTED / 429 text. */
  public String rateLimitText(String client, long retryMillis) {
    return "rate limit of "
        + BigDecimal.valueOf(perSecond).stripTrailingZeros().toPlainString()
        + " requests/s for "
        + client
        + " exceeded; retry in "
        + retryMillis
        + " ms (graft.limits.requests-per-second, graft.limits.burst)";
  }

  /** The RESOURCE_EXHAUSTED text of an upload stream that grew too large. */
  public String uploadText(String client, String method, long bytes) {
    return method
        + " from "
        + client
        + " sent "
        + bytes
        + " bytes, more than graft.limits.max-upload-bytes ("
        + maxUploadBytes
        + "); nothing was stored: upload less or raise graft.limits.max-upload-bytes";
  }

  int bucketCount() {
    return buckets.size();
  }

  private final class Bucket {
    private double tokens;
    private long last;

    Bucket(double tokens, long now) {
      this.tokens = tokens;
      this.last = now;
    }

    synchronized OptionalLong take(long now) {
      refill(now);
      if (tokens >= 1) {
        tokens -= 1;
        return OptionalLong.empty();
      }
      return OptionalLong.of((long) Math.ceil((1 - tokens) / perSecond * 1000));
    }

    synchronized boolean isFull(long now) {
      refill(now);
      return tokens >= burst;
    }

    private void refill(long now) {
      tokens = Math.min(burst, tokens + (now - last) / 1e9 * perSecond);
      last = now;
    }
  }
}
