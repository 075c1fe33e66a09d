package dev.graft.support;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Gives every test run a fresh data directory and free ports, so that the service under test starts
 * its own embedded PostgreSQL (the production code path) and parallel builds never collide.
 */
public class GraftTestResource implements QuarkusTestResourceLifecycleManager {

  @Override
  public Map<String, String> start() {
    try {
      Path dir = Files.createTempDirectory(Path.of("target"), "test-data-");
      return Map.of(
          "graft.storage.dir", dir.toAbsolutePath().toString(),
          "graft.database.embedded-port", String.valueOf(freePort()),
          "quarkus.http.test-port", String.valueOf(freePort()),
          "quarkus.grpc.server.test-port", String.valueOf(freePort()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void stop() {}

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    }
  }
}
