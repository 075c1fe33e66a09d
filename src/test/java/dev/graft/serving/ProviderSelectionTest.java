package dev.graft.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtProvider;
import java.util.EnumSet;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ProviderSelectionTest {

  private static final EnumSet<OrtProvider> CPU_ONLY = EnumSet.of(OrtProvider.CPU);
  private static final EnumSet<OrtProvider> WITH_CUDA =
      EnumSet.of(OrtProvider.CPU, OrtProvider.CUDA);

  @Test
  void autoTakesCudaWhenOfferedAndCpuSilentlyOtherwise() {
    assertEquals(
        new ProviderSelection(ExecutionProvider.CUDA, Optional.empty()),
        ProviderSelection.select(ExecutionProvider.AUTO, WITH_CUDA));
    assertEquals(
        new ProviderSelection(ExecutionProvider.CPU, Optional.empty()),
        ProviderSelection.select(ExecutionProvider.AUTO, CPU_ONLY));
  }

  @Test
  void cudaRequestedWithoutCudaFallsBackToCpuWithAWarningSayingWhatToInstall() {
    ProviderSelection s = ProviderSelection.select(ExecutionProvider.CUDA, CPU_ONLY);
    assertEquals(ExecutionProvider.CPU, s.provider());
    assertTrue(s.warning().orElseThrow().contains("-Pgpu"), s.warning().orElseThrow());
    assertEquals(
        new ProviderSelection(ExecutionProvider.CUDA, Optional.empty()),
        ProviderSelection.select(ExecutionProvider.CUDA, WITH_CUDA));
  }

  @Test
  void cpuIsCpuEvenWithAGpu() {
    assertEquals(
        new ProviderSelection(ExecutionProvider.CPU, Optional.empty()),
        ProviderSelection.select(ExecutionProvider.CPU, WITH_CUDA));
  }

  @Test
  void thisBuildServesOnCpuWhenCudaIsRequested() {
    // The default build ships the CPU runtime: CUDA falls back rather than failing.
    SessionFactory f = new SessionFactory(ExecutionProvider.CUDA, 0, 1L << 30, 1, 1, "ALL_OPT");
    assertEquals(ExecutionProvider.CPU, f.provider());
  }
}
