package dev.graft.training;

import ai.djl.Device;
import java.util.concurrent.Semaphore;

/**
 * How many runs train at once on each kind of device: {@code
 * graft.training.max-concurrent-cpu-runs} on the CPU, {@code max-concurrent-gpu-runs} on the GPU
 * (runs train on the first one). A run takes a slot of the device it trains on for as long as it
 * trains; queued runs wait for one in order.
 */
final class DeviceSlots {

  private final Semaphore cpu;
  private final Semaphore gpu;

  DeviceSlots(int cpuRuns, int gpuRuns) {
    this.cpu = new Semaphore(Math.max(1, cpuRuns), true);
    this.gpu = new Semaphore(Math.max(1, gpuRuns), true);
  }

  /** Worker threads enough for every slot of both kinds to be busy at once. */
  static int threads(int cpuRuns, int gpuRuns) {
    return Math.max(1, cpuRuns) + Math.max(1, gpuRuns);
  }

  /** A held slot; closing gives it back. */
  interface Slot extends AutoCloseable {
    @Override
    void close();
  }

  /** Waits for a slot of the device's kind. */
  Slot acquire(Device device) throws InterruptedException {
    Semaphore s = device.isGpu() ? gpu : cpu;
    s.acquire();
    return s::release;
  }

  /** A slot if one is free now, else null. */
  Slot tryAcquire(Device device) {
    Semaphore s = device.isGpu() ? gpu : cpu;
    return s.tryAcquire() ? s::release : null;
  }
}
