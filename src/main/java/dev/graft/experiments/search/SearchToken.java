package dev.graft.experiments.search;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.graft.core.GraftException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A keyset page token: the sort values and id of the last run of a page, and a fingerprint of the
 * query it belongs to. Runs added later cannot shift a page, since the next one starts strictly
 * after the last run seen.
 *
 * @param query fingerprint of filter, ordering and experiments
 * @param values the last run's sort values (Double, String or null), one per sort column
 * @param id the last run's id
 */
record SearchToken(String query, List<Object> values, long id) {

  private static final ObjectMapper JSON = new ObjectMapper();

  String encode() {
    ObjectNode node = JSON.createObjectNode();
    node.put("q", query);
    ArrayNode v = node.putArray("v");
    for (Object o : values) {
      if (o == null) {
        v.addNull();
      } else if (o instanceof Double d) {
        v.add(d);
      } else {
        v.add(o.toString());
      }
    }
    node.put("id", id);
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(node.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** The token's position; INVALID_ARGUMENT when it is not a token of this same query. */
  static SearchToken decode(String token, String query, int columns) {
    try {
      JsonNode node = JSON.readTree(Base64.getUrlDecoder().decode(token));
      if (node != null
          && node.path("q").asText().equals(query)
          && node.path("v").isArray()
          && node.path("v").size() == columns
          && node.path("id").canConvertToLong()) {
        List<Object> values = new ArrayList<>();
        for (JsonNode v : node.path("v")) {
          values.add(v.isNull() ? null : v.isNumber() ? (Object) v.doubleValue() : v.asText());
        }
        return new SearchToken(query, values, node.path("id").asLong());
      }
    } catch (IOException | IllegalArgumentException e) {
      // not a token of ours: the error below
    }
    throw new GraftException.InvalidArgument(
        "page_token is not a token returned by a previous page of this same search (same filter, "
            + "order_by and experiments); omit it to start");
  }
}
