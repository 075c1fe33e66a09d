package dev.graft.training;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak memory of a run, sampled at every progress event: the process's resident set (JVM heap plus
 * native tensors) from /proc where available, else the JVM heap in use.
 */
final class MemoryWatch {

  private static final Path STATUS = Path.of("/proc/self/status");
  private long peak;

  void sample() {
    peak = Math.max(peak, current());
  }

  long peak() {
    sample();
    return peak;
  }

  static long current() {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: fall back to the heap
    }
    Runtime rt = Runtime.getRuntime();
    return rt.totalMemory() - rt.freeMemory();
  }
}
