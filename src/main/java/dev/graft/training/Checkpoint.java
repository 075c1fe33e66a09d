package dev.graft.training;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.onnx.OnnxImport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A run's state after a finished epoch, under {@code <data>/runs/<id>/checkpoint}: the weights as
 * ONNX, the optimizer state and the loop's bookkeeping. Written and fsynced in {@code
 * checkpoint.tmp} ({@code state.json} last: a directory with it is complete), then swapped in by
 * two renames ({@code checkpoint} to {@code checkpoint.old}, {@code checkpoint.tmp} to {@code
 * checkpoint}) with the parent directory fsynced. A kill at any point leaves a complete checkpoint
 * in one of the three; {@link #exists()} recovers it, the newest first.
 */
final class Checkpoint {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STATE = "state.json";

  /**
   * The loop's bookkeeping: epochs done and early-stopping state. {@code bestLoss} is the
   * validation loss of the best epoch, the tie-break of a higher-is-better metric (a checkpoint
   * written before it existed reads 0, so that ties never count, as they did then).
   */
  record State(
      int epochsDone,
      double bestValue,
      int bestEpoch,
      int sinceImprovement,
      boolean stopped,
      double bestLoss) {

    static State initial(boolean lowerIsBetter) {
      return new State(
          0,
          lowerIsBetter ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY,
          0,
          0,
          false,
          Double.POSITIVE_INFINITY);
    }
  }

  private final Path dir;
  private final Path tmp;
  private final Path old;

  Checkpoint(Path runDir) {
    this.dir = runDir.resolve("checkpoint");
    this.tmp = runDir.resolve("checkpoint.tmp");
    this.old = runDir.resolve("checkpoint.old");
  }

  /** Whether there is a checkpoint, after recovering one a kill left mid-swap. */
  boolean exists() {
    try {
      recover();
    } catch (IOException e) {
      throw new UncheckedIOException("could not recover the checkpoint under " + dir, e);
    }
    return complete(dir);
  }

  /**
   * Whether a complete checkpoint is there, in any of the three places, without recovering
   * anything: safe to call while another process may be writing the run's next checkpoint.
   */
  boolean present() {
    return complete(dir) || complete(tmp) || complete(old);
  }

  void save(ModelProto weights, NDList optimizerState, State state, ModelProto best) {
    try {
      writeTmp(weights, optimizerState, state, best);
      swap();
    } catch (IOException e) {
      throw new UncheckedIOException("could not write the checkpoint under " + dir, e);
    }
  }

  /** The first half of {@link #save}: a complete, synced {@code checkpoint.tmp}. */
  void writeTmp(ModelProto weights, NDList optimizerState, State state, ModelProto best)
      throws IOException {
    deleteTree(tmp);
    Files.createDirectories(tmp);
    write(tmp.resolve("model.onnx"), weights.toByteArray());
    write(tmp.resolve("optimizer.ndlist"), optimizerState.encode());
    Path previousBest = dir.resolve("best.onnx");
    if (best != null) {
      write(tmp.resolve("best.onnx"), best.toByteArray());
    } else if (Files.exists(previousBest)) {
      write(tmp.resolve("best.onnx"), Files.readAllBytes(previousBest));
    }
    write(tmp.resolve(STATE), JSON.writeValueAsBytes(state)); // last: marks tmp complete
    fsync(tmp);
  }

  private void swap() throws IOException {
    deleteTree(old);
    if (Files.exists(dir)) {
      Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    fsync(dir.getParent());
    deleteTree(old);
  }

  /** Finishes or undoes a swap a kill interrupted. */
  private void recover() throws IOException {
    if (complete(dir)) {
      deleteTree(tmp); // a kill while writing the next one, or after the swap
      deleteTree(old);
      return;
    }
    if (!Files.exists(tmp) && !Files.exists(old)) {
      return; // no checkpoint yet
    }
    deleteTree(dir);
    if (complete(tmp)) {
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE); // killed between the two renames
    } else if (complete(old)) {
      Files.move(old, dir, StandardCopyOption.ATOMIC_MOVE); // killed before tmp was complete
    }
    fsync(dir.getParent());
    deleteTree(tmp);
    deleteTree(old);
  }

  private static boolean complete(Path d) {
    return Files.isRegularFile(d.resolve(STATE));
  }

  private static void write(Path file, byte[] bytes) throws IOException {
    try (FileChannel c =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        c.write(b);
      }
      c.force(true);
    }
  }

  /** Makes the directory's entries (created, renamed files) durable. */
  private static void fsync(Path directory) throws IOException {
    try (FileChannel c = FileChannel.open(directory, StandardOpenOption.READ)) {
      c.force(true);
    }
  }

  State state() {
    try {
      return JSON.readValue(dir.resolve(STATE).toFile(), State.class);
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
