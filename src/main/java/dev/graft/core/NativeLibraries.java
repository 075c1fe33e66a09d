package dev.graft.core;

import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.nio.file.Path;
import org.jboss.logging.Logger;

/**
 * Makes DJL take libtorch from the native jar on the classpath, unpacked under the data directory,
 * and never from the network — unless the operator set these explicitly. Runs before anything
 * touches a DJL engine.
 */
@Singleton
public class NativeLibraries {

  private static final Logger LOG = Logger.getLogger(NativeLibraries.class);

  private final StorageConfig storage;

  NativeLibraries(StorageConfig storage) {
    this.storage = storage;
  }

  void onStart(@Observes @Priority(0) StartupEvent event) {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    if (System.getenv("DJL_CACHE_DIR") == null && System.getProperty("DJL_CACHE_DIR") == null) {
      Path cache = storage.area("djl-cache").toAbsolutePath();
      System.setProperty("DJL_CACHE_DIR", cache.toString());
    }
    LOG.debugf(
        "DJL offline=%s, cache=%s",
        System.getProperty("ai.djl.offline"),
        System.getenv("DJL_CACHE_DIR") != null
            ? System.getenv("DJL_CACHE_DIR")
            : System.getProperty("DJL_CACHE_DIR"));
  }
}
