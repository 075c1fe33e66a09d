package dev.graft.training;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.onnx.OnnxImport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A run's state after a finished epoch, under {@code <data>/runs/<id>/checkpoint}: the weights as
 * ONNX, the optimizer state and the loop's bookkeeping. Written to a sibling directory and renamed
 * into place, so a kill never leaves half a checkpoint.
 */
final class Checkpoint {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The loop's bookkeeping: epochs done and early-stopping state. */
  record State(
      int epochsDone, double bestValue, int bestEpoch, int sinceImprovement, boolean stopped) {

    static State initial(boolean lowerIsBetter) {
      return new State(
          0, lowerIsBetter ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY, 0, 0, false);
    }
  }

  private final Path dir;

  Checkpoint(Path runDir) {
    this.dir = runDir.resolve("checkpoint");
  }

  boolean exists() {
    return Files.isRegularFile(dir.resolve("state.json"));
  }

  void save(ModelProto weights, NDList optimizerState, State state, ModelProto best) {
    Path tmp = dir.resolveSibling("checkpoint.tmp");
    try {
      deleteTree(tmp);
      Files.createDirectories(tmp);
      Files.write(tmp.resolve("model.onnx"), weights.toByteArray());
      Files.write(tmp.resolve("optimizer.ndlist"), optimizerState.encode());
      Files.write(tmp.resolve("state.json"), JSON.writeValueAsBytes(state));
      Path previousBest = dir.resolve("best.onnx");
      if (best != null) {
        Files.write(tmp.resolve("best.onnx"), best.toByteArray());
      } else if (Files.exists(previousBest)) {
        Files.copy(previousBest, tmp.resolve("best.onnx"));
      }
      Path old = dir.resolveSibling("checkpoint.old");
      deleteTree(old);
      if (Files.exists(dir)) {
        Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
      }
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      deleteTree(old);
    } catch (IOException e) {
      throw new UncheckedIOException("could not write the checkpoint under " + dir, e);
    }
  }

  State state() {
    try {
      return JSON.readValue(dir.resolve("state.json").toFile(), State.class);
    } catch (IOException e) {
      throw new UncheckedIOException("checkpoint " + dir + " is unreadable", e);
    }
  }

  ModelProto weights() {
    return OnnxImport.load(dir.resolve("model.onnx"));
  }

  ModelProto best() {
    Path best = dir.resolve("best.onnx");
    return Files.exists(best) ? OnnxImport.load(best) : null;
  }

  NDList optimizerState(NDManager manager) {
    try {
      return NDList.decode(manager, Files.readAllBytes(dir.resolve("optimizer.ndlist")));
    } catch (IOException e) {
      throw new UncheckedIOException("checkpoint " + dir + " is unreadable", e);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}
