package dev.graft.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The token buckets and who counts as one client, on a clock the test moves. */
class ClientLimitsTest {

  private static final String KEY = "trainer-key-1";
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final ApiKeys keys =
      new ApiKeys(Map.of(HexFormat.of().formatHex(ApiKeys.sha256(KEY)), "trainer"));

  private ClientLimits limits(double perSecond, int burst, boolean auth) {
    return new ClientLimits(perSecond, burst, 0, auth, keys, now::get);
  }

  @Test
  void aBurstPassesThenTheNextCallWaitsForOneToken() {
    ClientLimits limits = limits(2, 3, false);
    for (int i = 0; i < 3; i++) {
      assertEquals(OptionalLong.empty(), limits.acquire("peer 10.0.0.1"));
    }
    assertEquals(OptionalLong.of(500), limits.acquire("peer 10.0.0.1"));
    now.addAndGet(250_000_000L); // half a token back
    assertEquals(OptionalLong.of(250), limits.acquire("peer 10.0.0.1"));
    now.addAndGet(250_000_000L);
    assertEquals(OptionalLong.empty(), limits.acquire("peer 10.0.0.1"));
    // another client has its own bucket
    assertEquals(OptionalLong.empty(), limits.acquire("peer 10.0.0.2"));
  }

  @Test
  void offByDefaultNeverWaits() {
    ClientLimits limits = limits(0, 1, false);
    for (int i = 0; i < 100; i++) {
      assertEquals(OptionalLong.empty(), limits.acquire("peer 10.0.0.1"));
    }
    assertEquals(0, limits.bucketCount());
  }

  @Test
  void aKnownKeyIsTheClientOnlyWhenAuthIsOn() {
    String fingerprint = HexFormat.of().formatHex(ApiKeys.sha256(KEY)).substring(0, 8);
    assertEquals(
        "key " + fingerprint, limits(1, 1, true).client("Bearer " + KEY, null, "10.0.0.1"));
    assertEquals("key " + fingerprint, limits(1, 1, true).client(null, KEY, "10.0.0.1"));
    // an unknown key does not get a bucket of its own
    assertEquals("peer 10.0.0.1", limits(1, 1, true).client("Bearer guess", null, "10.0.0.1"));
    assertEquals("peer 10.0.0.1", limits(1, 1, false).client("Bearer " + KEY, null, "10.0.0.1"));
  }

  @Test
  void theTextsNameTheRateTheClientAndTheSettingToRaise() {
    ClientLimits limits = new ClientLimits(2.5, 1, 1000, false, keys, now::get);
    assertEquals(
        "rate limit of 2.5 requests/s for peer 10.0.0.1 exceeded; retry in 400 ms"
            + " (graft.limits.requests-per-second, graft.limits.burst)",
        limits.rateLimitText("peer 10.0.0.1", 400));
    assertEquals(
        "graft.v1.DatasetService/UploadDataset from key 0123abcd sent 1200 bytes, more than"
            + " graft.limits.max-upload-bytes (1000); nothing was stored: upload less or raise"
            + " graft.limits.max-upload-bytes",
        limits.uploadText("key 0123abcd", "graft.v1.DatasetService/UploadDataset", 1200));
  }

  @Test
  void idleFullBucketsAreDroppedWhenThereAreTooMany() {
    ClientLimits limits = limits(10, 1, false);
    for (int i = 0; i < ClientLimits.MAX_IDLE_BUCKETS; i++) {
      limits.acquire("peer " + i);
    }
    now.addAndGet(1_000_000_000L); // every bucket full again
    limits.acquire("peer new");
    assertTrue(limits.bucketCount() <= 2, "buckets: " + limits.bucketCount());
  }
}
