package dev.graft.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A run's configuration under the names the search language uses: {@code params.learning_rate},
 * {@code params.epochs}, {@code params.freeze.train_last_blocks}, {@code params.head.dropout},
 * {@code params.early_stopping.patience}, {@code params.split.validation_fraction}... The
 * hyper-parameters sit at the top, as in the StartRun request's {@code hyper_parameters}; every
 * other part of {@link RunSpec} keeps its (snake_case) place, so a new setting is searchable
 * without a change here.
 */
final class RunParams {

  private static final ObjectMapper SNAKE =
      new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

  private RunParams() {}

  @SuppressWarnings("unchecked")
  static Map<String, Object> of(RunSpec spec) {
    ObjectNode tree = SNAKE.valueToTree(spec);
    ObjectNode out = SNAKE.createObjectNode();
    ObjectNode freeze = out.putObject("freeze");
    tree.fields()
        .forEachRemaining(
            e -> {
              switch (e.getKey()) {
                case "hyper" -> {
                  if (e.getValue().isObject()) {
                    out.setAll((ObjectNode) e.getValue());
                  }
                }
                case "train_last_blocks", "train_patterns" -> freeze.set(e.getKey(), e.getValue());
                default -> out.set(e.getKey(), e.getValue());
              }
            });
    return SNAKE.convertValue(out, LinkedHashMap.class);
  }
}
