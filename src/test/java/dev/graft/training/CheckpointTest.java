package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.onnx.proto.OnnxMl.ModelProto;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A kill at any point of writing or swapping a checkpoint leaves one to resume from. */
class CheckpointTest {

  @TempDir Path run;

  private static Checkpoint.State epoch(int n) {
    return new Checkpoint.State(n, 0.5, n, 0, false, 0.25);
  }

  private static final ModelProto WEIGHTS = ModelProto.newBuilder().setIrVersion(8).build();

  @Test
  void aKillBetweenTheTwoRenamesKeepsTheNewCheckpoint() throws Exception {
    Checkpoint c = new Checkpoint(run);
    c.save(WEIGHTS, new NDList(), epoch(1), null);
    c.writeTmp(WEIGHTS, new NDList(), epoch(2), null);
    Files.move(run.resolve("checkpoint"), run.resolve("checkpoint.old")); // first rename, then kill

    Checkpoint after = new Checkpoint(run);
    assertTrue(after.exists());
    assertEquals(2, after.state().epochsDone());
    assertFalse(Files.exists(run.resolve("checkpoint.tmp")));
    assertFalse(Files.exists(run.resolve("checkpoint.old")));
  }

  @Test
  void aKillWhileWritingTheNextOneKeepsThePreviousOne() throws Exception {
    Checkpoint c = new Checkpoint(run);
    c.save(WEIGHTS, new NDList(), epoch(1), null);
    c.save(WEIGHTS, new NDList(), epoch(2), null);
    // The next one half written (no state.json yet), and the current one already moved aside.
    Files.createDirectories(run.resolve("checkpoint.tmp"));
    Files.write(run.resolve("checkpoint.tmp/model.onnx"), new byte[] {1, 2});
    Files.move(run.resolve("checkpoint"), run.resolve("checkpoint.old"));

    Checkpoint after = new Checkpoint(run);
    assertTrue(after.exists());
    assertEquals(2, after.state().epochsDone());
    assertFalse(Files.exists(run.resolve("checkpoint.tmp")));
  }

  @Test
  void aStateWrittenBeforeTheLossTieBreakReadsItAsZero() throws Exception {
    Checkpoint c = new Checkpoint(run);
    c.save(WEIGHTS, new NDList(), epoch(3), null);
    Files.writeString(
        run.resolve("checkpoint/state.json"),
        "{\"epochsDone\":3,\"bestValue\":0.8,\"bestEpoch\":2,\"sinceImprovement\":1,"
            + "\"stopped\":false}");
    assertEquals(
        new Checkpoint.State(3, 0.8, 2, 1, false, 0),
        new Checkpoint(run).state(),
        "ties never count");
  }

  @Test
  void aHalfWrittenFirstCheckpointIsNone() throws Exception {
    Files.createDirectories(run.resolve("checkpoint.tmp"));
    Files.write(run.resolve("checkpoint.tmp/model.onnx"), new byte[] {1, 2});
    assertFalse(new Checkpoint(run).exists());
    assertFalse(Files.exists(run.resolve("checkpoint.tmp")));
  }

  @Test
  void theBestWeightsAreCarriedIntoTheNextCheckpoint() {
    Checkpoint c = new Checkpoint(run);
    ModelProto best = ModelProto.newBuilder().setIrVersion(8).setProducerName("best").build();
    c.save(WEIGHTS, new NDList(), epoch(1), best);
    c.save(WEIGHTS, new NDList(), epoch(2), null);
    assertTrue(Files.isRegularFile(run.resolve("checkpoint/best.onnx")));
    assertEquals(2, c.state().epochsDone());
  }
}
