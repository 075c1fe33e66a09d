package dev.graft.serving;

import dev.graft.model.ModelVersionInfo;
import java.util.List;

/**
 * Per input, its top classes best first; and the version and provider that answered. For text
 * inputs, {@code truncated} says per input whether the text was cut at the model's max length
 * (empty for other inputs).
 */
public record PredictionResult(
    ModelVersionInfo answeredBy,
    ExecutionProvider provider,
    List<List<ClassScore>> predictions,
    List<Boolean> truncated) {

  public PredictionResult {
    truncated = truncated == null ? List.of() : List.copyOf(truncated);
  }

  public PredictionResult(
      ModelVersionInfo answeredBy, ExecutionProvider provider, List<List<ClassScore>> predictions) {
    this(answeredBy, provider, predictions, List.of());
  }

  /** Whether input {@code i} was a text cut at the max length. */
  public boolean truncated(int i) {
    return i < truncated.size() && truncated.get(i);
  }
}
