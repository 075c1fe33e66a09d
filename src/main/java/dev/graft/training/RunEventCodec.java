package dev.graft.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.util.Map;

/**
 * The JSON of one run event as it travels between processes: {@code {"origin", "run_id",
 * "sequence", "type", "event"}}, or, for an event too big for a NOTIFY payload, {@code {"origin",
 * "run_id", "sequence", "ref"}} with the full JSON in row {@code ref} of table {@code run_event}.
 */
final class RunEventCodec {

  /** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; keep a margin. */
  static final int MAX_NOTIFY_BYTES = 7_900;

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .registerModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  private static final Map<String, Class<? extends RunEvent>> TYPES =
      Map.of(
          "status", RunEvent.StatusChanged.class,
          "progress", RunEvent.Progress.class,
          "epoch", RunEvent.EpochEnded.class,
          "exported", RunEvent.Exported.class,
          "plan", RunEvent.PlanChosen.class,
          "phase", RunEvent.PhaseStarted.class);

  /** What a payload carries: the event, or a reference to it ({@code ref > 0}, event null). */
  record Envelope(String origin, long runId, long sequence, RunEvent event, long ref) {}

  private RunEventCodec() {}

  static String encode(String origin, RunEvent event) {
    ObjectNode n = head(origin, event);
    n.put("type", type(event));
    n.set("event", JSON.valueToTree(event));
    return write(n);
  }

  static String reference(String origin, RunEvent event, long ref) {
    ObjectNode n = head(origin, event);
    n.put("ref", ref);
    return write(n);
  }

  static Envelope decode(String payload) {
    try {
      JsonNode n = JSON.readTree(payload);
      String origin = n.path("origin").asText("");
      long runId = n.path("run_id").asLong();
      long sequence = n.path("sequence").asLong();
      if (n.has("ref")) {
        return new Envelope(origin, runId, sequence, null, n.get("ref").asLong());
      }
      Class<? extends RunEvent> type = TYPES.get(n.path("type").asText());
      if (type == null) {
        throw new IllegalArgumentException("unknown run event type in " + abbreviate(payload));
      }
      return new Envelope(origin, runId, sequence, JSON.treeToValue(n.get("event"), type), 0);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a run event: " + abbreviate(payload), e);
    }
  }

  private static ObjectNode head(String origin, RunEvent event) {
    ObjectNode n = JSON.createObjectNode();
    n.put("origin", origin);
    n.put("run_id", event.runId());
    n.put("sequence", event.sequence());
    return n;
  }

  private static String type(RunEvent event) {
    for (Map.Entry<String, Class<? extends RunEvent>> t : TYPES.entrySet()) {
      if (t.getValue().isInstance(event)) {
        return t.getKey();
      }
    }
    throw new IllegalArgumentException("unknown run event " + event.getClass());
  }

  private static String write(JsonNode n) {
    try {
      return JSON.writeValueAsString(n);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 200 ? s : s.substring(0, 200) + "...";
  }
}
