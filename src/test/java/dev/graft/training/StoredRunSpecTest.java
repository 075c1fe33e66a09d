package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The versioned storage form of run configs and summaries, without a database. */
class StoredRunSpecTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @SuppressWarnings("unchecked")
  private static Map<String, Object> fixture(String name) throws Exception {
    try (InputStream in = StoredRunSpecTest.class.getResourceAsStream("/stored-runs/" + name)) {
      return JSON.readValue(in, Map.class);
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"transfer-learning", "fine-tuning", "gradual", "from-scratch", "pretraining"})
  void aConfigOfTodayReadsAndRoundTripsThroughVersionOne(String strategy) throws Exception {
    Map<String, Object> v0 = fixture(strategy + ".config.json");
    RunSpec spec = StoredRunSpec.read(1, v0);
    Map<String, Object> v1 = StoredRunSpec.write(spec);
    assertEquals(1, v1.get("v"));
    // Through JSON text, as JSONB stores it.
    @SuppressWarnings("unchecked")
    Map<String, Object> stored = JSON.readValue(JSON.writeValueAsString(v1), Map.class);
    assertEquals(spec, StoredRunSpec.read(1, stored));
    // The same values as the record serialised by a default ObjectMapper (version 0), with the
    // defaults of settings added since (max_sequence_length).
    assertEquals(JSON.convertValue(v0, RunSpec.class).withDefaults(), spec);
    assertEquals(128, spec.hyper().maxSequenceLength());
  }

  @ParameterizedTest
  @ValueSource(strings = {"transfer-learning", "failed", "queued", "pretraining"})
  void aSummaryOfTodayReadsAndRoundTrips(String name) throws Exception {
    RunSummary summary = RunSummary.fromStored(fixture(name + ".summary.json"));
    @SuppressWarnings("unchecked")
    Map<String, Object> stored =
        JSON.readValue(JSON.writeValueAsString(summary.toStored()), Map.class);
    assertEquals(summary, RunSummary.fromStored(stored));
  }

  @org.junit.jupiter.api.Test
  void summaryStepsKeepWhatEarlierStepsWrote() {
    RunSummary s =
        RunSummary.EMPTY
            .started(true, List.of("a", "b"))
            .tested(Map.of("test_accuracy", 0.5), List.of(1L, 1L, 1L, 1L), 4)
            .published("m:2", "ab", 1e-6);
    assertEquals(
        new RunSummary(
            true,
            List.of("a", "b"),
            Map.of("test_accuracy", 0.5),
            List.of(1L, 1L, 1L, 1L),
            4,
            "m:2",
            "ab",
            1e-6,
            null),
        RunSummary.fromStored(s.toStored()));
  }
}
