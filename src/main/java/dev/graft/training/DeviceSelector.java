package dev.graft.training;

import ai.djl.Device;
import dev.graft.core.GraftException;

/**
 * Chooses where a run trains: AUTO takes the first GPU when there is one, CPU otherwise; GPU is
 * refused up front when there is none, rather than failing in the middle of a run.
 */
public final class DeviceSelector {

  private DeviceSelector() {}

  /**
   * @param requested AUTO, CPU or GPU
   * @param gpuCount GPUs the engine sees ({@code Engine.getInstance().getGpuCount()})
   */
  public static Device select(String requested, int gpuCount) {
    switch (requested) {
      case "CPU":
        return Device.cpu();
      case "GPU":
        if (gpuCount < 1) {
          throw new GraftException.FailedPrecondition(
              "device GPU was requested but no GPU is available to PyTorch on this server;"
                  + " use AUTO or CPU, or build with the gpu profile on a CUDA host");
        }
        return Device.gpu(0);
      case "AUTO":
        return gpuCount > 0 ? Device.gpu(0) : Device.cpu();
      default:
        throw new GraftException.InvalidArgument(
            "device '" + requested + "': use AUTO, CPU or GPU");
    }
  }
}
