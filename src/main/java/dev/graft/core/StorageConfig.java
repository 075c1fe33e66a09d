package dev.graft.core;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;

/** Where Graft keeps its artifacts. */
@ConfigMapping(prefix = "graft.storage")
public interface StorageConfig {

  /**
   * The data directory: datasets, checkpoints, ONNX files and the embedded database live under it.
   * In Kubernetes, a persistent volume.
   */
  @WithDefault("graft-data")
  Path dir();

  /** The directory under the data directory that holds one feature's artifacts. */
  default Path area(String name) {
    return dir().resolve(name);
  }
}
