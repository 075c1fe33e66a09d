package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.FileNotFoundException;
import org.junit.jupiter.api.Test;

class RunSchedulerDescribeTest {

  @Test
  void aFailedRunsErrorNamesTheExceptionAndHidesTheDataDirectory() {
    Exception e =
        new FileNotFoundException("/var/lib/graft/base-models/cnn-small/model.onnx (gone)");
    assertEquals(
        "FileNotFoundException: <data>/base-models/cnn-small/model.onnx (gone)",
        RunScheduler.describe(e, "/var/lib/graft"));
    assertEquals("IllegalStateException", RunScheduler.describe(new IllegalStateException(), ""));
  }
}
