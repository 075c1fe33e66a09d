package dev.graft.serving;

import dev.graft.model.ModelVersionInfo;
import java.util.List;

/** A model's raw output tensor for a tensor request (KServe v2): name, shape, float32 values. */
public record TensorResult(
    ModelVersionInfo answeredBy,
    ExecutionProvider provider,
    String name,
    List<Long> shape,
    float[] values) {}
