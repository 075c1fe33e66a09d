package dev.graft.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.graft.data.Dataset;
import dev.graft.data.DatasetRepository;
import dev.graft.experiments.Experiment;
import dev.graft.experiments.ExperimentRepository;
import dev.graft.experiments.MetricPoint;
import dev.graft.experiments.MetricPointRepository;
import dev.graft.experiments.Run;
import dev.graft.experiments.RunRepository;
import dev.graft.experiments.RunStatus;
import dev.graft.model.BaseModel;
import dev.graft.model.BaseModelRepository;
import dev.graft.model.ModelAlias;
import dev.graft.model.ModelAliasRepository;
import dev.graft.model.ModelVersion;
import dev.graft.model.ModelVersionRepository;
import dev.graft.support.GraftTest;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/** The Flyway schema and the entity mappings agree: every entity round-trips. */
@QuarkusTest
class SchemaTest extends GraftTest {

  @Inject Flyway flyway;
  @Inject EntityManager em;
  @Inject ExperimentRepository experiments;
  @Inject RunRepository runs;
  @Inject MetricPointRepository metrics;
  @Inject DatasetRepository datasets;
  @Inject BaseModelRepository baseModels;
  @Inject ModelVersionRepository versions;
  @Inject ModelAliasRepository aliases;

  @Test
  void flywayOwnsTheSchema() {
    // Every migration on the classpath applied, the newest last (V1 and its successors).
    var applied = flyway.info().applied();
    assertEquals("1", applied[0].getVersion().getVersion());
    assertEquals(
        java.util.Arrays.stream(flyway.info().all())
            .map(m -> m.getVersion())
            .max(Comparable::compareTo)
            .orElseThrow(),
        flyway.info().current().getVersion());
    assertEquals(0, flyway.info().pending().length);
  }

  @Test
  void everyEntityRoundTrips() {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    Instant now = Instant.parse("2026-01-02T03:04:05Z");
    long[] ids = new long[7];
    QuarkusTransaction.requiringNew()
        .run(
            () -> {
              Experiment e = new Experiment();
              e.name = "schema-" + suffix;
              e.tags = new String[] {"a"};
              e.createdAt = now;
              e.updatedAt = now;
              experiments.persist(e);

              Dataset d = new Dataset();
              d.name = "ds-" + suffix;
              d.kind = "IMAGE";
              d.source = "UPLOAD";
              d.status = "READY";
              d.classNames = List.of("cat", "dog");
              d.classCounts = Map.of("cat", 3L, "dog", 4L);
              d.exampleCount = 7;
              d.exampleShape = List.of(1L, 28L, 28L);
              d.sha256 = "a".repeat(64);
              d.storagePath = "datasets/1";
              d.createdAt = now;
              datasets.persist(d);

              BaseModel b = new BaseModel();
              b.name = "bm-" + suffix;
              b.architecture = "cnn-small";
              b.source = "PRETRAINED";
              b.onnxPath = "models/base.onnx";
              b.sha256 = "b".repeat(64);
              b.featureTensor = "features";
              b.inputSpec = Map.of("shape", List.of(1, 28, 28));
              b.preprocessing = Map.of("scale", 1.0 / 255);
              b.metrics = Map.of("test_accuracy", 0.9);
              b.createdAt = now;
              baseModels.persist(b);

              Run r = new Run();
              r.experimentId = e.id;
              r.name = "tl";
              r.strategy = "TRANSFER_LEARNING";
              r.status = RunStatus.QUEUED;
              r.baseModelId = b.id;
              r.datasetId = d.id;
              r.config = Map.of("epochs", 3, "optimizer", Map.of("name", "adam", "lr", 0.001));
              r.seed = 42;
              r.requestedDevice = "AUTO";
              r.versions = Map.of("djl", "0.36.0");
              r.createdAt = now;
              r.updatedAt = now;
              runs.persist(r);

              MetricPoint m = new MetricPoint();
              m.runId = r.id;
              m.key = "val_accuracy";
              m.step = 1;
              m.epoch = 1;
              m.value = 0.75;
              m.recordedAt = now;
              metrics.persist(m);

              ModelVersion v = new ModelVersion();
              v.modelName = "digits-" + suffix;
              v.version = 1;
              v.runId = r.id;
              v.onnxPath = "models/v1.onnx";
              v.sha256 = "c".repeat(64);
              v.inputSpec = Map.of("name", "input");
              v.labels = List.of("0", "1");
              v.parityMaxAbsDiff = 1e-6;
              v.metadata = Map.of("graft.run_id", "1");
              v.createdAt = now;
              versions.persist(v);

              ModelAlias a = new ModelAlias();
              a.modelName = v.modelName;
              a.alias = "latest";
              a.modelVersionId = v.id;
              a.updatedAt = now;
              aliases.persist(a);

              ids[0] = e.id;
              ids[1] = d.id;
              ids[2] = b.id;
              ids[3] = r.id;
              ids[4] = m.id;
              ids[5] = v.id;
              ids[6] = a.id;
            });

    QuarkusTransaction.requiringNew()
        .run(
            () -> {
              assertEquals("a", experiments.findById(ids[0]).tags[0]);
              assertEquals(Map.of("cat", 3L, "dog", 4L), datasets.findById(ids[1]).classCounts);
              assertEquals(List.of(1L, 28L, 28L), datasets.findById(ids[1]).exampleShape);
              assertEquals(0.9, baseModels.findById(ids[2]).metrics.get("test_accuracy"));
              Run r = runs.findById(ids[3]);
              assertEquals(RunStatus.QUEUED, r.status);
              assertEquals(3, ((Number) r.config.get("epochs")).intValue());
              assertEquals(now, r.createdAt);
              assertEquals(0.75, metrics.findById(ids[4]).value);
              assertEquals(List.of("0", "1"), versions.findById(ids[5]).labels);
              assertNotNull(aliases.findById(ids[6]));
            });
  }

  @Test
  void runStatusIsConstrainedByTheSchema() {
    assertThrows(
        Exception.class,
        () ->
            QuarkusTransaction.requiringNew()
                .run(
                    () ->
                        em.createNativeQuery(
                                "insert into experiment (name, created_at, updated_at)"
                                    + " values ('bad-status', now(), now());"
                                    + " insert into run (experiment_id, name, strategy, status,"
                                    + " config, seed, requested_device, created_at, updated_at)"
                                    + " select id, 'r', 'X', 'BOGUS', '{}', 1, 'CPU', now(), now()"
                                    + " from experiment where name = 'bad-status'")
                            .executeUpdate()));
  }
}
