package dev.graft.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArtifactsTest {

  @TempDir Path dir;

  @Test
  void writeAtomicallyReplacesTheFileAndLeavesNoTemporarySibling() throws Exception {
    Path target = dir.resolve("models/m/1/model.onnx");
    Artifacts.writeAtomically(target, "first".getBytes(StandardCharsets.UTF_8));
    Artifacts.writeAtomically(target, "second".getBytes(StandardCharsets.UTF_8));

    assertArrayEquals("second".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(target));
    assertEquals(List.of("model.onnx"), names(target.getParent()));
  }

  @Test
  void copyWithSha256ReturnsTheDigestOfTheCopyAndLeavesNoTemporarySibling() throws Exception {
    Path source = Files.writeString(dir.resolve("source.bin"), "abc");
    Path target = dir.resolve("out/copy.bin");

    String sha = Artifacts.copyWithSha256(source, target);

    // sha256("abc"), as sha256sum prints it.
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", sha);
    assertEquals(sha, Artifacts.sha256(target));
    assertEquals(List.of("copy.bin"), names(target.getParent()));
  }

  @Test
  void aFailedCopyLeavesNeitherTheTargetNorATemporaryFile() {
    Path target = dir.resolve("out/copy.bin");
    assertThrows(
        UncheckedIOException.class,
        () -> Artifacts.copyWithSha256(dir.resolve("missing.bin"), target));
    assertEquals(List.of(), names(target.getParent()));
  }

  private static List<String> names(Path directory) {
    try (Stream<Path> files = Files.list(directory)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (java.io.IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
