package dev.graft.training;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;

/** What Graft prepares by itself on a fresh installation, so that it is useful at once. */
@ConfigMapping(prefix = "graft.bootstrap")
public interface BootstrapConfig {

  /**
   * When no pre-trained vision base model exists, pre-train one at start-up: {@code cnn-small} on
   * Fashion-MNIST when its IDX files are found, else on Graft's synthetic shapes.
   */
  @WithDefault("true")
  boolean pretrain();

  /** Where the Fashion-MNIST IDX files are (Debian's dataset-fashion-mnist puts them here). */
  @WithDefault("/usr/share/datasets/fashion-mnist")
  Path fashionMnistDir();

  /** Epochs of the start-up pre-training. */
  @WithDefault("3")
  int epochs();

  /** Register the MiniLM text encoder shipped on the classpath as a base model. */
  @WithDefault("true")
  boolean registerMinilm();
}
