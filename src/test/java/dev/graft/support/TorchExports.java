package dev.graft.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * The PyTorch exports that scripts/export-torch-models.sh writes under target/torch-models (or
 * where {@code graft.torch-models} points), read from its manifest. Tests that need them skip with
 * a message when PyTorch could not be had.
 */
public final class TorchExports {

  /**
   * One exported file.
   *
   * @param file the ONNX file
   * @param model resnet18, mobilenetv2 or transformer
   * @param batchNorm "kept" (training=PRESERVE, no constant folding) or "folded" (eval defaults)
   * @param opset the opset it was exported at
   * @param input one example's shape (the batch dimension aside)
   * @param featureTensor the input of the classifier's last Gemm
   */
  public record Export(
      Path file, String model, String batchNorm, int opset, long[] input, String featureTensor) {

    public byte[] bytes() {
      try {
        return Files.readAllBytes(file);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public String toString() {
      return file.getFileName().toString();
    }
  }

  private TorchExports() {}

  public static Path dir() {
    return Path.of(System.getProperty("graft.torch-models", "target/torch-models"));
  }

  /** Every export in the manifest; skips the calling test when there is none. */
  public static List<Export> all() {
    Path manifest = dir().resolve("manifest.tsv");
    Assumptions.assumeTrue(
        Files.isRegularFile(manifest),
        manifest.toAbsolutePath()
            + " is absent: run scripts/export-torch-models.sh (needs Debian's python3-torch,"
            + " python3-torchvision and python3-onnx)");
    try {
      List<Export> out = new ArrayList<>();
      List<String> lines = Files.readAllLines(manifest);
      for (String line : lines.subList(1, lines.size())) {
        if (line.isBlank()) {
          continue;
        }
        String[] f = line.split("\t");
        long[] input = Arrays.stream(f[4].split("x")).mapToLong(Long::parseLong).toArray();
        out.add(new Export(dir().resolve(f[0]), f[1], f[2], Integer.parseInt(f[3]), input, f[5]));
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The export of that file name; skips the calling test when it is absent. */
  public static Export get(String fileName) {
    return all().stream()
        .filter(e -> e.file().getFileName().toString().equals(fileName))
        .findFirst()
        .orElseThrow(() -> new IllegalStateException(fileName + " is not in the manifest"));
  }
}
