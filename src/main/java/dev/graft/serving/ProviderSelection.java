package dev.graft.serving;

import ai.onnxruntime.OrtProvider;
import java.util.Optional;
import java.util.Set;

/**
 * The execution provider actually used for a request: {@code provider} is CPU or CUDA, {@code
 * warning} says why a requested GPU is not used.
 */
public record ProviderSelection(ExecutionProvider provider, Optional<String> warning) {

  /**
   * Chooses from what the ONNX Runtime build offers ({@code OrtEnvironment#getAvailableProviders}).
   */
  public static ProviderSelection select(ExecutionProvider requested, Set<OrtProvider> available) {
    boolean cuda = available.contains(OrtProvider.CUDA);
    switch (requested) {
      case CPU:
        return new ProviderSelection(ExecutionProvider.CPU, Optional.empty());
      case AUTO:
        return new ProviderSelection(
            cuda ? ExecutionProvider.CUDA : ExecutionProvider.CPU, Optional.empty());
      case CUDA:
        if (cuda) {
          return new ProviderSelection(ExecutionProvider.CUDA, Optional.empty());
        }
        return new ProviderSelection(
            ExecutionProvider.CPU,
            Optional.of(
                "graft.serving.execution-provider=CUDA but this ONNX Runtime offers only "
                    + available
                    + "; serving on CPU. Build with -Pgpu (onnxruntime_gpu) and install the CUDA 12"
                    + " and cuDNN 9 libraries to use the GPU"));
      default:
        throw new IllegalArgumentException("unknown execution provider " + requested);
    }
  }
}
