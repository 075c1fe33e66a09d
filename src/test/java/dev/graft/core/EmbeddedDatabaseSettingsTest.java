package dev.graft.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.graft.support.GraftTest;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * The durability settings reach the running embedded server: the test profile turns them off
 * explicitly (graft.database.embedded-durable=false), and the server reports exactly that through
 * the service's own datasource. The packaged service's default (on) is checked by
 * EmbeddedDatabaseSupervisionIT.
 */
@QuarkusTest
class EmbeddedDatabaseSettingsTest extends GraftTest {

  @Inject AgroalDataSource dataSource;
  @Inject DatabaseConfig config;
  @Inject EmbeddedDatabase embedded;

  private String show(String setting) throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SHOW " + setting)) {
      r.next();
      return r.getString(1);
    }
  }

  @Test
  void theTestProfileRunsTheEmbeddedServerWithoutFsyncAndSynchronousCommit() throws Exception {
    assertEquals(false, config.embeddedDurable());
    assertEquals("off", show("fsync"));
    assertEquals("off", show("synchronous_commit"));
  }

  @Test
  void theServerIsAChildOfThisJvm() {
    long pid = ProcessHandle.current().pid();
    long postmaster = embedded.pid().orElseThrow();
    assertEquals(
        java.util.Optional.of(pid),
        ProcessHandle.of(postmaster).flatMap(ProcessHandle::parent).map(ProcessHandle::pid));
  }
}
