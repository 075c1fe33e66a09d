package dev.graft.serving;

import dev.graft.model.ModelVersionInfo;
import java.util.List;

/** Per input, its top classes best first; and the version and provider that answered. */
public record PredictionResult(
    ModelVersionInfo answeredBy, ExecutionProvider provider, List<List<ClassScore>> predictions) {}
