package dev.graft.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.internal.KubernetesDeserializer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.module.SimpleModule;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Renders every overlay under {@code k8s/overlays} with {@code kubectl kustomize} (installed by
 * scripts/install-kubectl.sh) and loads every object with fabric8's Kubernetes model (custom
 * resources as generic ones), then checks what a cluster operator would check: resources and a
 * locked-down securityContext on every container, gRPC health probes, GPUs only in {@code gpu}, no
 * inline credentials, h2c on gRPC Service ports, image tags equal to the project version,
 * NetworkPolicies that expose only the API and inference ports, the PDB and HPA on inference, the
 * KEDA and CloudNativePG objects, and all-in-one as the single pod it always was.
 *
 * <p>{@code -Dgraft.k8s.dir=<dir>} checks another copy of {@code k8s/} (to see an assertion fail on
 * a broken manifest). Skips, saying why, only where no usable kubectl exists.
 */
class K8sManifestsTest {

  static final Set<String> OVERLAYS =
      Set.of("all-in-one", "cpu", "gpu", "postgres-operator", "external-postgres");
  static final Set<String> ROLE_OVERLAYS =
      Set.of("cpu", "gpu", "postgres-operator", "external-postgres");
  static final Map<String, String> ROLES =
      Map.of("graft-api", "api", "graft-inference", "inference", "graft-trainer", "trainer");
  static final String GPU = "nvidia.com/gpu";
  static final String HEALTH_SERVICE = "grpc.health.v1.Health";
  static final Pattern CREDENTIAL_NAME =
      Pattern.compile("PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL", Pattern.CASE_INSENSITIVE);
  static final Pattern INLINE_CREDENTIAL =
      Pattern.compile("(?i)(password=|://[^/\\s:@]+:[^/\\s@]+@)");
  static final Pattern REGISTRY_HOST =
      Pattern.compile(
          "(?i)\\b(docker\\.io|nvcr\\.io|quay\\.io|registry\\.k8s\\.io|ghcr\\.io|gcr\\.io"
              + "|mcr\\.microsoft\\.com|public\\.ecr\\.aws|k8s\\.gcr\\.io)\\b");

  static Path root;
  static String skipped;
  static String projectVersion;
  static final Map<String, String> rendered = new LinkedHashMap<>();
  static final Map<String, List<HasMetadata>> objects = new LinkedHashMap<>();

  @BeforeAll
  static void render() throws Exception {
    root = Path.of(System.getProperty("graft.k8s.dir", "k8s")).toAbsolutePath();
    projectVersion = projectVersion();
    String version = kubectlVersion();
    if (version == null) {
      skipped =
          "no kubectl on PATH: scripts/install-kubectl.sh could not install one"
              + " (apt-get install kubernetes-client as root, or kubectl 1.24+); manifests unchecked";
      return;
    }
    if (!version.contains("Kustomize Version")) {
      skipped =
          "kubectl too old for Kustomize components (needs 1.24+): "
              + version.lines().findFirst().orElse("");
      return;
    }
    Set<String> found;
    try (Stream<Path> dirs = Files.list(root.resolve("overlays"))) {
      found =
          dirs.filter(Files::isDirectory)
              .map(p -> p.getFileName().toString())
              .collect(Collectors.toCollection(TreeSet::new));
    }
    assertEquals(new TreeSet<>(OVERLAYS), found, "overlays under " + root.resolve("overlays"));
    ObjectMapper yaml =
        YAMLMapper.builder()
            .addModule(
                new SimpleModule()
                    .addDeserializer(KubernetesResource.class, new KubernetesDeserializer()))
            .build();
    for (String overlay : found) {
      String text = kustomize(root.resolve("overlays").resolve(overlay));
      rendered.put(overlay, text);
      List<HasMetadata> list = new ArrayList<>();
      for (String doc : text.split("(?m)^---\\s*$")) {
        if (doc.isBlank()) {
          continue;
        }
        KubernetesResource resource = yaml.readValue(doc, KubernetesResource.class);
        assertTrue(resource instanceof HasMetadata, overlay + ": not a Kubernetes object:\n" + doc);
        list.add((HasMetadata) resource);
      }
      objects.put(overlay, list);
    }
  }

  /** Each test reports the skip (a skipped @BeforeAll shows up as no test at all). */
  @BeforeEach
  void needsKubectl() {
    Assumptions.assumeTrue(skipped == null, skipped);
  }

  // --- every overlay ---------------------------------------------------------------------

  @Test
  void everyObjectIsTypedByTheModelAndCustomResourcesAreKnownOnes() {
    Set<String> allowedGeneric =
        Set.of(
            "keda.sh/v1alpha1/ScaledObject",
            "keda.sh/v1alpha1/TriggerAuthentication",
            "postgresql.cnpg.io/v1/Cluster");
    for (var entry : objects.entrySet()) {
      for (HasMetadata o : entry.getValue()) {
        String id = o.getApiVersion() + "/" + o.getKind();
        assertNotNull(o.getMetadata().getName(), entry.getKey() + ": " + id + " without a name");
        if (o instanceof GenericKubernetesResource) {
          assertTrue(
              allowedGeneric.contains(id),
              entry.getKey()
                  + ": "
                  + id
                  + " "
                  + name(o)
                  + " is not a kind fabric8's model knows (misspelt apiVersion or kind?)");
        }
      }
    }
  }

  @Test
  void everyContainerHasResourcesAndALockedDownSecurityContext() {
    forEachPod(
        (overlay, d, pod) -> {
          String where = overlay + " " + name(d);
          assertEquals(
              Boolean.FALSE,
              pod.getAutomountServiceAccountToken(),
              where + ": automountServiceAccountToken must be false");
          PodSecurityContext psc = pod.getSecurityContext();
          assertNotNull(psc, where + ": no pod securityContext");
          assertEquals(Boolean.TRUE, psc.getRunAsNonRoot(), where + ": pod runAsNonRoot");
          assertNotNull(psc.getFsGroup(), where + ": fsGroup (volumes writable by the user)");
          List<Container> all = new ArrayList<>(pod.getContainers());
          all.addAll(pod.getInitContainers());
          for (Container c : all) {
            String at = where + " container " + c.getName();
            assertNotNull(c.getResources(), at + ": no resources");
            for (String r : List.of("cpu", "memory")) {
              assertTrue(
                  c.getResources().getRequests() != null
                      && c.getResources().getRequests().containsKey(r),
                  at + ": no " + r + " request");
              assertTrue(
                  c.getResources().getLimits() != null
                      && c.getResources().getLimits().containsKey(r),
                  at + ": no " + r + " limit");
            }
            SecurityContext sc = c.getSecurityContext();
            assertNotNull(sc, at + ": no securityContext");
            assertEquals(Boolean.TRUE, sc.getRunAsNonRoot(), at + ": runAsNonRoot");
            assertEquals(
                Boolean.FALSE, sc.getAllowPrivilegeEscalation(), at + ": allowPrivilegeEscalation");
            assertEquals(
                Boolean.TRUE, sc.getReadOnlyRootFilesystem(), at + ": readOnlyRootFilesystem");
            assertTrue(
                sc.getCapabilities() != null
                    && sc.getCapabilities().getDrop() != null
                    && sc.getCapabilities().getDrop().contains("ALL"),
                at + ": capabilities must drop ALL");
            assertTrue(
                sc.getCapabilities().getAdd() == null || sc.getCapabilities().getAdd().isEmpty(),
                at + ": adds capabilities");
            assertEquals(
                Boolean.FALSE, Boolean.TRUE.equals(sc.getPrivileged()), at + ": privileged");
            String seccomp =
                sc.getSeccompProfile() != null
                    ? sc.getSeccompProfile().getType()
                    : psc.getSeccompProfile() != null ? psc.getSeccompProfile().getType() : null;
            assertEquals("RuntimeDefault", seccomp, at + ": seccompProfile");
            // A read-only root needs somewhere to write: /tmp on an emptyDir.
            VolumeMount tmp =
                c.getVolumeMounts().stream()
                    .filter(m -> "/tmp".equals(m.getMountPath()))
                    .findFirst()
                    .orElse(null);
            assertNotNull(tmp, at + ": /tmp is not a volume (read-only root filesystem)");
            Volume v = volume(pod, tmp.getName());
            assertNotNull(v.getEmptyDir(), at + ": /tmp must be an emptyDir");
          }
        });
  }

  @Test
  void probesAskTheGrpcHealthServiceOnTheGrpcPort() {
    forEachPod(
        (overlay, d, pod) -> {
          for (Container c : pod.getContainers()) {
            String at = overlay + " " + name(d) + " container " + c.getName();
            Integer grpcPort =
                c.getPorts().stream()
                    .filter(p -> "grpc".equals(p.getName()))
                    .map(p -> p.getContainerPort())
                    .findFirst()
                    .orElse(null);
            assertEquals(9000, grpcPort, at + ": the container port named grpc");
            Probe startup = c.getStartupProbe();
            Probe readiness = c.getReadinessProbe();
            Probe liveness = c.getLivenessProbe();
            assertNotNull(startup, at + ": no startupProbe");
            assertNotNull(readiness, at + ": no readinessProbe");
            assertNotNull(liveness, at + ": no livenessProbe");
            for (var probe : Map.of("startup", startup, "readiness", readiness).entrySet()) {
              String p = at + " " + probe.getKey() + "Probe";
              assertNotNull(probe.getValue().getGrpc(), p + ": must be a native gRPC probe");
              assertEquals(grpcPort, probe.getValue().getGrpc().getPort(), p + ": port");
              assertEquals(
                  "", probe.getValue().getGrpc().getService(), p + ": service \"\" (readiness)");
            }
            if (overlay.equals("all-in-one")) {
              // The embedded database's supervisor gives up through /q/health/live only.
              assertNotNull(liveness.getHttpGet(), at + ": liveness on /q/health/live");
              assertEquals("/q/health/live", liveness.getHttpGet().getPath(), at);
              assertEquals("http", liveness.getHttpGet().getPort().getStrVal(), at);
            } else {
              assertNotNull(liveness.getGrpc(), at + " livenessProbe: must be a native gRPC probe");
              assertEquals(grpcPort, liveness.getGrpc().getPort(), at + " livenessProbe: port");
              assertEquals(
                  HEALTH_SERVICE,
                  liveness.getGrpc().getService(),
                  at + " livenessProbe: the health service itself (answers without the database)");
            }
          }
        });
  }

  @Test
  void gpusOnlyInTheGpuOverlayAndThereOnTrainersAndInference() {
    for (var entry : rendered.entrySet()) {
      if (!entry.getKey().equals("gpu")) {
        assertFalse(entry.getValue().contains(GPU), entry.getKey() + " mentions " + GPU);
      }
    }
    for (Deployment d : deployments("gpu")) {
      PodSpec pod = d.getSpec().getTemplate().getSpec();
      Container c = pod.getContainers().get(0);
      boolean wantsGpu = !name(d).equals("graft-api");
      boolean hasGpu =
          c.getResources().getLimits() != null && c.getResources().getLimits().containsKey(GPU);
      assertEquals(wantsGpu, hasGpu, "gpu " + name(d) + ": " + GPU + " limit");
      if (wantsGpu) {
        assertEquals(
            "1", c.getResources().getLimits().get(GPU).toString(), "gpu " + name(d) + ": GPUs");
        assertFalse(
            pod.getNodeSelector() == null || pod.getNodeSelector().isEmpty(),
            "gpu " + name(d) + ": nodeSelector for GPU nodes");
        assertTrue(
            pod.getTolerations().stream().anyMatch(t -> GPU.equals(t.getKey())),
            "gpu " + name(d) + ": toleration for the " + GPU + " taint");
        assertTrue(c.getImage().startsWith("graft-gpu:"), "gpu " + name(d) + ": the GPU image");
      } else {
        assertTrue(c.getImage().startsWith("graft:"), "gpu graft-api: the CPU image");
      }
    }
  }

  @Test
  void noCredentialIsInline() {
    for (var entry : objects.entrySet()) {
      String overlay = entry.getKey();
      for (HasMetadata o : entry.getValue()) {
        assertFalse(
            o.getKind().equals("Secret"),
            overlay + ": Secret " + name(o) + " in the manifests (reference one instead)");
        if (o instanceof ConfigMap cm && cm.getData() != null) {
          cm.getData()
              .forEach(
                  (k, v) -> {
                    assertFalse(
                        CREDENTIAL_NAME.matcher(k).find(),
                        overlay + " ConfigMap " + name(o) + ": " + k + " looks like a credential");
                    assertFalse(
                        INLINE_CREDENTIAL.matcher(v).find(),
                        overlay + " ConfigMap " + name(o) + ": " + k + " holds a password");
                  });
        }
      }
      forEachPod(
          overlay,
          (ov, d, pod) -> {
            for (Container c : pod.getContainers()) {
              for (EnvVar e : c.getEnv()) {
                String at = ov + " " + name(d) + " env " + e.getName();
                if (CREDENTIAL_NAME.matcher(e.getName()).find()
                    || e.getName().endsWith("_JDBC_URL")) {
                  assertNull(e.getValue(), at + ": inline value (use valueFrom.secretKeyRef)");
                  assertTrue(
                      e.getValueFrom() != null && e.getValueFrom().getSecretKeyRef() != null,
                      at + ": must come from a Secret");
                }
                if (e.getValue() != null) {
                  assertFalse(
                      INLINE_CREDENTIAL.matcher(e.getValue()).find(), at + ": holds a password");
                }
              }
            }
          });
      // Nothing that looks like a password anywhere in the rendered text.
      assertFalse(
          INLINE_CREDENTIAL.matcher(rendered.get(overlay)).find(),
          overlay + ": rendered manifests contain a URL or parameter with a password");
    }
  }

  @Test
  void grpcServicePortsSpeakH2cAndEveryServiceSelectsPods() {
    for (String overlay : objects.keySet()) {
      List<Deployment> deployments = deployments(overlay);
      for (Service s : ofKind(overlay, Service.class)) {
        List<Deployment> selected =
            deployments.stream()
                .filter(
                    d ->
                        matches(
                            s.getSpec().getSelector(),
                            d.getSpec().getTemplate().getMetadata().getLabels()))
                .toList();
        assertFalse(selected.isEmpty(), overlay + " Service " + name(s) + " selects no pods");
        for (ServicePort p : s.getSpec().getPorts()) {
          String at = overlay + " Service " + name(s) + " port " + p.getName();
          if ("grpc".equals(p.getName()) || p.getPort() == 9000) {
            assertEquals("kubernetes.io/h2c", p.getAppProtocol(), at + ": appProtocol");
          }
          String target = p.getTargetPort() == null ? null : p.getTargetPort().getStrVal();
          if (target != null) {
            for (Deployment d : selected) {
              assertTrue(
                  d.getSpec().getTemplate().getSpec().getContainers().stream()
                      .flatMap(c -> c.getPorts().stream())
                      .anyMatch(cp -> target.equals(cp.getName())),
                  at + ": targetPort " + target + " is no port of " + name(d));
            }
          }
        }
      }
    }
  }

  @Test
  void imagesAreTaggedWithTheProjectVersionAndNameNoRegistry() throws IOException {
    for (String overlay : objects.keySet()) {
      forEachPod(
          overlay,
          (ov, d, pod) -> {
            for (Container c : pod.getContainers()) {
              String image = c.getImage();
              String at = ov + " " + name(d) + " image " + image;
              int colon = image.lastIndexOf(':');
              assertTrue(colon > image.lastIndexOf('/'), at + ": no tag");
              assertEquals(projectVersion, image.substring(colon + 1), at + ": tag");
              String first = image.contains("/") ? image.substring(0, image.indexOf('/')) : "";
              assertFalse(
                  first.contains(".") || first.contains(":") || first.equals("localhost"),
                  at + ": names a registry (set it with kustomize edit set image)");
            }
          });
    }
    // No registry host in the manifests, the Dockerfiles or the scripts.
    List<Path> files = new ArrayList<>();
    for (Path dir :
        List.of(root, root.resolveSibling("src/main/docker"), root.resolveSibling("scripts"))) {
      if (Files.isDirectory(dir)) {
        try (Stream<Path> walk = Files.walk(dir)) {
          walk.filter(Files::isRegularFile).forEach(files::add);
        }
      }
    }
    assertFalse(files.isEmpty());
    for (Path f : files) {
      Matcher m = REGISTRY_HOST.matcher(Files.readString(f));
      if (m.find()) {
        fail(f + " names the registry host " + m.group());
      }
    }
  }

  // --- the scaled-out overlays -----------------------------------------------------------

  @Test
  void eachRoleHasItsDeploymentOnTheSharedVolumeAndTheExternalDatabase() {
    for (String overlay : ROLE_OVERLAYS) {
      Map<String, Deployment> byName = new LinkedHashMap<>();
      deployments(overlay).forEach(d -> byName.put(name(d), d));
      assertEquals(ROLES.keySet(), byName.keySet(), overlay + ": Deployments");
      ConfigMap config =
          ofKind(overlay, ConfigMap.class).stream()
              .filter(c -> name(c).equals("graft-config"))
              .findFirst()
              .orElseThrow(() -> new AssertionError(overlay + ": no ConfigMap graft-config"));
      assertEquals("/var/lib/graft", config.getData().get("GRAFT_STORAGE_DIR"), overlay);
      assertEquals("false", config.getData().get("GRAFT_DATABASE_EMBEDDED_ENABLED"), overlay);
      PersistentVolumeClaim pvc =
          ofKind(overlay, PersistentVolumeClaim.class).stream()
              .filter(p -> name(p).equals("graft-artifacts"))
              .findFirst()
              .orElseThrow(() -> new AssertionError(overlay + ": no PVC graft-artifacts"));
      assertEquals(List.of("ReadWriteMany"), pvc.getSpec().getAccessModes(), overlay + " PVC");
      ServiceAccount sa =
          ofKind(overlay, ServiceAccount.class).stream()
              .findFirst()
              .orElseThrow(() -> new AssertionError(overlay + ": no ServiceAccount"));
      assertEquals(Boolean.FALSE, sa.getAutomountServiceAccountToken(), overlay + " SA");
      for (var role : ROLES.entrySet()) {
        Deployment d = byName.get(role.getKey());
        String at = overlay + " " + role.getKey();
        PodSpec pod = d.getSpec().getTemplate().getSpec();
        assertEquals(name(sa), pod.getServiceAccountName(), at + ": serviceAccountName");
        Container c = pod.getContainers().get(0);
        assertEquals(role.getValue(), env(c, "GRAFT_ROLE"), at + ": GRAFT_ROLE");
        assertTrue(
            c.getEnvFrom().stream()
                .anyMatch(
                    e ->
                        e.getConfigMapRef() != null
                            && name(config).equals(e.getConfigMapRef().getName())),
            at + ": envFrom the ConfigMap");
        VolumeMount artifacts =
            c.getVolumeMounts().stream()
                .filter(m -> "/var/lib/graft".equals(m.getMountPath()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(at + ": /var/lib/graft not mounted"));
        assertEquals(
            name(pvc),
            volume(pod, artifacts.getName()).getPersistentVolumeClaim().getClaimName(),
            at + ": the artifact volume");
        for (String key :
            List.of(
                "QUARKUS_DATASOURCE_JDBC_URL",
                "QUARKUS_DATASOURCE_USERNAME",
                "QUARKUS_DATASOURCE_PASSWORD")) {
          SecretKeySelector ref = secretRef(c, key);
          assertNotNull(ref, at + ": " + key + " from a Secret");
          assertFalse(Boolean.TRUE.equals(ref.getOptional()), at + ": " + key + " optional");
        }
        // Replicas of inference and trainers belong to their autoscalers.
        if (!role.getValue().equals("api")) {
          assertNull(d.getSpec().getReplicas(), at + ": replicas set (the autoscaler owns them)");
        }
      }
      assertTrue(
          byName
                  .get("graft-trainer")
                  .getSpec()
                  .getTemplate()
                  .getSpec()
                  .getTerminationGracePeriodSeconds()
              >= 60,
          overlay + " graft-trainer: terminationGracePeriodSeconds must leave time to checkpoint");
      // The trainer exposes only metrics as a Service.
      for (Service s : ofKind(overlay, Service.class)) {
        if (matches(
            s.getSpec().getSelector(),
            byName.get("graft-trainer").getSpec().getTemplate().getMetadata().getLabels())) {
          assertEquals(
              List.of("http"),
              s.getSpec().getPorts().stream().map(ServicePort::getName).toList(),
              overlay + " Service " + name(s) + ": trainers take no calls");
        }
      }
    }
  }

  @Test
  void networkPoliciesExposeOnlyTheApiAndInferencePortsAndPostgresOnlyToGraft() {
    for (String overlay : ROLE_OVERLAYS) {
      List<NetworkPolicy> policies = ofKind(overlay, NetworkPolicy.class);
      assertFalse(policies.isEmpty(), overlay + ": no NetworkPolicy");
      Set<String> external = new TreeSet<>();
      for (Deployment d : deployments(overlay)) {
        Map<String, String> labels = d.getSpec().getTemplate().getMetadata().getLabels();
        List<NetworkPolicy> selecting =
            policies.stream()
                .filter(p -> ingress(p) && matches(p.getSpec().getPodSelector(), labels))
                .toList();
        assertFalse(selecting.isEmpty(), overlay + " " + name(d) + ": no ingress policy");
        for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
          for (var port : c.getPorts()) {
            for (NetworkPolicy p : selecting) {
              for (NetworkPolicyIngressRule rule : p.getSpec().getIngress()) {
                if (coversPort(rule, port.getContainerPort(), port.getName())
                    && fromOutsideTheNamespace(rule)) {
                  external.add(ROLES.get(name(d)) + ":" + port.getContainerPort());
                }
              }
            }
          }
        }
      }
      assertEquals(
          new TreeSet<>(Set.of("api:8080", "api:9000", "inference:9000")),
          external,
          overlay + ": ports reachable from outside the namespace");
      // PostgreSQL: port 5432 of the database pods only from Graft pods, the database's own
      // instances and, by namespace, the operator and KEDA.
      Map<String, String> database =
          Map.of("app.kubernetes.io/component", "database", "app.kubernetes.io/name", "graft-db");
      List<NetworkPolicy> dbPolicies =
          policies.stream()
              .filter(p -> ingress(p) && matches(p.getSpec().getPodSelector(), database))
              .toList();
      assertFalse(dbPolicies.isEmpty(), overlay + ": no policy for the database pods");
      Map<String, String> graftPod =
          deployments(overlay).get(0).getSpec().getTemplate().getMetadata().getLabels();
      boolean graftReaches5432 = false;
      for (NetworkPolicy p : dbPolicies) {
        for (NetworkPolicyIngressRule rule : p.getSpec().getIngress()) {
          assertFalse(
              rule.getFrom() == null || rule.getFrom().isEmpty(),
              overlay + " " + name(p) + ": a rule open to every source");
          for (NetworkPolicyPeer peer : rule.getFrom()) {
            assertNull(peer.getIpBlock(), overlay + " " + name(p) + ": ipBlock to the database");
            if (peer.getNamespaceSelector() != null) {
              String ns =
                  peer.getNamespaceSelector().getMatchLabels() == null
                      ? null
                      : peer.getNamespaceSelector()
                          .getMatchLabels()
                          .get("kubernetes.io/metadata.name");
              assertTrue(
                  Set.of("cnpg-system", "keda").contains(ns),
                  overlay + " " + name(p) + ": the database is open to namespace " + ns);
            } else {
              assertNotNull(peer.getPodSelector(), overlay + " " + name(p));
              Map<String, String> ml = peer.getPodSelector().getMatchLabels();
              // An empty podSelector is every pod of the namespace.
              assertTrue(
                  ml != null
                      && !ml.isEmpty()
                      && (matches(peer.getPodSelector(), graftPod)
                          || "database".equals(ml.get("app.kubernetes.io/component"))),
                  overlay + " " + name(p) + ": the database is open to pods " + ml);
              if (matches(peer.getPodSelector(), graftPod) && coversPort(rule, 5432, null)) {
                graftReaches5432 = true;
              }
            }
          }
        }
      }
      assertTrue(graftReaches5432, overlay + ": Graft pods cannot reach PostgreSQL on 5432");
    }
  }

  @Test
  void inferenceHasADisruptionBudgetAndAnHpa() {
    for (String overlay : ROLE_OVERLAYS) {
      Deployment inference =
          deployments(overlay).stream()
              .filter(d -> name(d).equals("graft-inference"))
              .findFirst()
              .orElseThrow();
      Map<String, String> labels = inference.getSpec().getTemplate().getMetadata().getLabels();
      PodDisruptionBudget pdb =
          ofKind(overlay, PodDisruptionBudget.class).stream()
              .filter(p -> matches(p.getSpec().getSelector(), labels))
              .findFirst()
              .orElseThrow(() -> new AssertionError(overlay + ": no PDB for graft-inference"));
      assertTrue(
          pdb.getSpec().getMinAvailable() != null || pdb.getSpec().getMaxUnavailable() != null,
          overlay + " PDB " + name(pdb) + ": neither minAvailable nor maxUnavailable");
      HorizontalPodAutoscaler hpa =
          ofKind(overlay, HorizontalPodAutoscaler.class).stream()
              .filter(h -> "graft-inference".equals(h.getSpec().getScaleTargetRef().getName()))
              .findFirst()
              .orElseThrow(() -> new AssertionError(overlay + ": no HPA on graft-inference"));
      assertEquals("autoscaling/v2", hpa.getApiVersion(), overlay);
      assertEquals("Deployment", hpa.getSpec().getScaleTargetRef().getKind(), overlay);
      int min = hpa.getSpec().getMinReplicas();
      assertTrue(min >= 2 && min <= hpa.getSpec().getMaxReplicas(), overlay + " HPA replicas");
      assertTrue(
          pdb.getSpec().getMinAvailable() == null
              || pdb.getSpec().getMinAvailable().getIntVal() < min,
          overlay + " PDB minAvailable must stay below the HPA's minimum, or nodes never drain");
      assertTrue(
          hpa.getSpec().getMetrics().stream()
              .anyMatch(
                  m ->
                      "Resource".equals(m.getType())
                          && "cpu".equals(m.getResource().getName())
                          && m.getResource().getTarget().getAverageUtilization() != null),
          overlay + " HPA: CPU utilisation metric");
      assertNotNull(
          inference
              .getSpec()
              .getTemplate()
              .getSpec()
              .getContainers()
              .get(0)
              .getResources()
              .getRequests()
              .get("cpu"),
          overlay + ": the HPA needs CPU requests on graft-inference");
    }
  }

  @Test
  void kedaScalesTrainersOnTheRunQueueDownToZero() throws IOException {
    String schema = migrations();
    Matcher check =
        Pattern.compile("run_status_ck CHECK \\(status IN\\s*\\(([^)]*)\\)").matcher(schema);
    assertTrue(check.find(), "the run status constraint in db/migration");
    Set<String> statuses = quoted(check.group(1));
    assertTrue(statuses.contains("QUEUED"), "statuses " + statuses);
    for (String overlay : ROLE_OVERLAYS) {
      GenericKubernetesResource so = only(overlay, "ScaledObject");
      assertEquals("keda.sh/v1alpha1", so.getApiVersion(), overlay);
      Map<String, Object> spec = map(so.getAdditionalProperties().get("spec"));
      Map<String, Object> target = map(spec.get("scaleTargetRef"));
      String targetName = (String) target.get("name");
      Deployment trainer =
          deployments(overlay).stream()
              .filter(d -> name(d).equals(targetName))
              .findFirst()
              .orElseThrow(
                  () ->
                      new AssertionError(
                          overlay + ": scaleTargetRef names no Deployment: " + targetName));
      assertEquals(
          "trainer",
          env(trainer.getSpec().getTemplate().getSpec().getContainers().get(0), "GRAFT_ROLE"));
      assertEquals(0, ((Number) spec.get("minReplicaCount")).intValue(), overlay + " min");
      assertTrue(((Number) spec.get("maxReplicaCount")).intValue() >= 1, overlay + " max");
      List<Object> triggers = list(spec.get("triggers"));
      assertEquals(1, triggers.size(), overlay + " triggers");
      Map<String, Object> trigger = map(triggers.get(0));
      assertEquals("postgresql", trigger.get("type"), overlay + " trigger type");
      Map<String, Object> md = map(trigger.get("metadata"));
      String query = (String) md.get("query");
      assertNotNull(query, overlay + ": trigger without a query");
      assertTrue(
          query.matches("(?is)SELECT count\\(\\*\\) FROM run WHERE status .*"),
          overlay + ": the query counts runs by status: " + query);
      Set<String> counted = quoted(query);
      assertTrue(counted.contains("QUEUED"), overlay + ": the query must count QUEUED runs");
      assertTrue(
          statuses.containsAll(counted), overlay + ": statuses " + counted + " not in " + statuses);
      assertTrue(
          schema.matches("(?s).*CREATE TABLE run \\(.*\\bstatus\\s+VARCHAR.*"),
          "run.status in db/migration");
      assertNotNull(md.get("targetQueryValue"), overlay + ": targetQueryValue");
      Map<String, Object> authRef = map(trigger.get("authenticationRef"));
      assertNotNull(authRef, overlay + ": the trigger has no authenticationRef");
      GenericKubernetesResource auth = only(overlay, "TriggerAuthentication");
      assertEquals("keda.sh/v1alpha1", auth.getApiVersion(), overlay);
      assertEquals(
          name(auth), authRef.get("name"), overlay + ": authenticationRef names no TriggerAuth");
      List<Object> refs =
          list(map(auth.getAdditionalProperties().get("spec")).get("secretTargetRef"));
      assertFalse(refs.isEmpty(), overlay + ": TriggerAuthentication without secretTargetRef");
      String secret = datasourceSecret(overlay);
      for (Object r : refs) {
        Map<String, Object> ref = map(r);
        assertEquals("connection", ref.get("parameter"), overlay + " TriggerAuthentication");
        assertEquals(secret, ref.get("name"), overlay + ": KEDA reads another Secret than Graft");
        assertEquals("uri", ref.get("key"), overlay + " TriggerAuthentication key");
      }
    }
  }

  @Test
  void cloudNativePgClusterGeneratesTheSecretTheDeploymentsRead() {
    for (String overlay : ROLE_OVERLAYS) {
      List<GenericKubernetesResource> clusters = generic(overlay, "Cluster");
      if (!overlay.equals("postgres-operator")) {
        assertTrue(clusters.isEmpty(), overlay + ": a CloudNativePG Cluster outside its overlay");
        continue;
      }
      assertEquals(1, clusters.size(), overlay + ": Clusters");
      GenericKubernetesResource cluster = clusters.get(0);
      assertEquals("postgresql.cnpg.io/v1", cluster.getApiVersion(), overlay);
      Map<String, Object> spec = map(cluster.getAdditionalProperties().get("spec"));
      assertTrue(((Number) spec.get("instances")).intValue() >= 1, overlay + " instances");
      Map<String, Object> storage = map(spec.get("storage"));
      assertTrue(storage != null && storage.get("size") != null, overlay + ": Cluster storage");
      assertNull(spec.get("imageName"), overlay + ": imageName would name a registry");
      Map<String, Object> labels = map(map(spec.get("inheritedMetadata")).get("labels"));
      assertEquals(
          "database",
          labels.get("app.kubernetes.io/component"),
          overlay + ": instances must carry the label the database NetworkPolicy selects");
      assertEquals(name(cluster) + "-app", datasourceSecret(overlay), overlay);
    }
    String external = datasourceSecret("external-postgres");
    assertFalse(external.endsWith("-app"), "external-postgres reads " + external);
  }

  // --- all-in-one -------------------------------------------------------------------------

  @Test
  void allInOneIsTodaysSinglePodAndTheDefault() throws Exception {
    List<Deployment> ds = deployments("all-in-one");
    assertEquals(1, ds.size(), "all-in-one: one Deployment");
    Deployment d = ds.get(0);
    assertEquals("graft", name(d));
    assertEquals(1, d.getSpec().getReplicas(), "all-in-one replicas");
    assertEquals("Recreate", d.getSpec().getStrategy().getType(), "one writer of the volume");
    Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertEquals("all", env(c, "GRAFT_ROLE"));
    assertEquals("/data", env(c, "GRAFT_STORAGE_DIR"));
    assertNull(env(c, "GRAFT_DATABASE_EMBEDDED_ENABLED"), "all-in-one runs the embedded database");
    for (String key : List.of("QUARKUS_DATASOURCE_JDBC_URL", "QUARKUS_DATASOURCE_PASSWORD")) {
      SecretKeySelector ref = secretRef(c, key);
      assertNotNull(ref, key);
      assertEquals(Boolean.TRUE, ref.getOptional(), key + ": without graft-db, embedded");
    }
    VolumeMount data =
        c.getVolumeMounts().stream()
            .filter(m -> m.getMountPath().equals("/data"))
            .findFirst()
            .orElseThrow();
    String claim =
        volume(d.getSpec().getTemplate().getSpec(), data.getName())
            .getPersistentVolumeClaim()
            .getClaimName();
    PersistentVolumeClaim pvc =
        ofKind("all-in-one", PersistentVolumeClaim.class).stream()
            .filter(p -> name(p).equals(claim))
            .findFirst()
            .orElseThrow();
    assertEquals(List.of("ReadWriteOnce"), pvc.getSpec().getAccessModes());
    Service s = ofKind("all-in-one", Service.class).get(0);
    assertEquals("graft", name(s));
    assertEquals(
        Map.of("grpc", 9000, "http", 8080),
        s.getSpec().getPorts().stream()
            .collect(Collectors.toMap(ServicePort::getName, ServicePort::getPort)));
    assertEquals(
        Set.of("PersistentVolumeClaim", "Deployment", "Service"),
        objects.get("all-in-one").stream().map(HasMetadata::getKind).collect(Collectors.toSet()));
    // kubectl apply -k k8s/ installs all-in-one.
    assertEquals(rendered.get("all-in-one"), kustomize(root), "k8s/ renders all-in-one");
  }

  // --- helpers ----------------------------------------------------------------------------

  interface PodCheck {
    void check(String overlay, Deployment deployment, PodSpec pod);
  }

  static void forEachPod(PodCheck check) {
    objects.keySet().forEach(o -> forEachPod(o, check));
  }

  static void forEachPod(String overlay, PodCheck check) {
    List<Deployment> ds = deployments(overlay);
    assertFalse(ds.isEmpty(), overlay + ": no Deployment");
    for (Deployment d : ds) {
      check.check(overlay, d, d.getSpec().getTemplate().getSpec());
    }
  }

  static List<Deployment> deployments(String overlay) {
    return ofKind(overlay, Deployment.class);
  }

  static <T extends HasMetadata> List<T> ofKind(String overlay, Class<T> type) {
    return objects.get(overlay).stream().filter(type::isInstance).map(type::cast).toList();
  }

  static List<GenericKubernetesResource> generic(String overlay, String kind) {
    return ofKind(overlay, GenericKubernetesResource.class).stream()
        .filter(g -> kind.equals(g.getKind()))
        .toList();
  }

  static GenericKubernetesResource only(String overlay, String kind) {
    List<GenericKubernetesResource> found = generic(overlay, kind);
    assertEquals(1, found.size(), overlay + ": " + kind + " objects");
    return found.get(0);
  }

  /** The one Secret every Deployment's datasource variables name. */
  static String datasourceSecret(String overlay) {
    Set<String> names = new LinkedHashSet<>();
    for (Deployment d : deployments(overlay)) {
      for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
        for (EnvVar e : c.getEnv()) {
          if (e.getName().startsWith("QUARKUS_DATASOURCE_")) {
            SecretKeySelector ref = secretRef(c, e.getName());
            assertNotNull(ref, overlay + " " + name(d) + " " + e.getName());
            names.add(ref.getName());
          }
        }
      }
    }
    assertEquals(1, names.size(), overlay + ": datasource Secrets " + names);
    return names.iterator().next();
  }

  static SecretKeySelector secretRef(Container c, String env) {
    return c.getEnv().stream()
        .filter(e -> e.getName().equals(env) && e.getValueFrom() != null)
        .map(e -> e.getValueFrom().getSecretKeyRef())
        .filter(Objects::nonNull)
        .findFirst()
        .orElse(null);
  }

  static String env(Container c, String name) {
    return c.getEnv().stream()
        .filter(e -> e.getName().equals(name))
        .map(EnvVar::getValue)
        .findFirst()
        .orElse(null);
  }

  static Volume volume(PodSpec pod, String name) {
    return pod.getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  static boolean ingress(NetworkPolicy p) {
    List<String> types = p.getSpec().getPolicyTypes();
    return types == null || types.isEmpty() || types.contains("Ingress");
  }

  static boolean coversPort(NetworkPolicyIngressRule rule, int number, String name) {
    if (rule.getPorts() == null || rule.getPorts().isEmpty()) {
      return true;
    }
    for (NetworkPolicyPort p : rule.getPorts()) {
      if (p.getPort() == null) {
        return true;
      }
      if (p.getPort().getIntVal() != null) {
        int from = p.getPort().getIntVal();
        int to = p.getEndPort() == null ? from : p.getEndPort();
        if (number >= from && number <= to) {
          return true;
        }
      } else if (p.getPort().getStrVal().equals(name)) {
        return true;
      }
    }
    return false;
  }

  /** Whether a peer of another namespace (or outside the cluster) matches the rule. */
  static boolean fromOutsideTheNamespace(NetworkPolicyIngressRule rule) {
    if (rule.getFrom() == null || rule.getFrom().isEmpty()) {
      return true;
    }
    return rule.getFrom().stream()
        .anyMatch(peer -> peer.getIpBlock() != null || peer.getNamespaceSelector() != null);
  }

  static boolean matches(LabelSelector selector, Map<String, String> labels) {
    if (selector == null) {
      return false;
    }
    if (selector.getMatchLabels() != null) {
      for (var e : selector.getMatchLabels().entrySet()) {
        if (!e.getValue().equals(labels.get(e.getKey()))) {
          return false;
        }
      }
    }
    if (selector.getMatchExpressions() != null) {
      for (LabelSelectorRequirement r : selector.getMatchExpressions()) {
        String v = labels.get(r.getKey());
        boolean ok =
            switch (r.getOperator()) {
              case "In" -> v != null && r.getValues().contains(v);
              case "NotIn" -> v == null || !r.getValues().contains(v);
              case "Exists" -> v != null;
              case "DoesNotExist" -> v == null;
              default -> throw new AssertionError("operator " + r.getOperator());
            };
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }

  static boolean matches(Map<String, String> selector, Map<String, String> labels) {
    return selector != null
        && !selector.isEmpty()
        && selector.entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey())));
  }

  static Set<String> quoted(String text) {
    Set<String> out = new LinkedHashSet<>();
    Matcher m = Pattern.compile("'([A-Z_]+)'").matcher(text);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    return o == null ? List.of() : (List<Object>) o;
  }

  static String name(HasMetadata o) {
    return o.getMetadata().getName();
  }

  static String migrations() throws IOException {
    Path dir = root.resolveSibling("src/main/resources/db/migration");
    try (Stream<Path> files = Files.list(dir)) {
      StringBuilder all = new StringBuilder();
      for (Path f : files.sorted().toList()) {
        all.append(Files.readString(f)).append('\n');
      }
      return all.toString();
    }
  }

  static String projectVersion() throws Exception {
    Path pom = root.resolveSibling("pom.xml");
    var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile());
    var children = doc.getDocumentElement().getChildNodes();
    for (int i = 0; i < children.getLength(); i++) {
      if ("version".equals(children.item(i).getNodeName())) {
        return children.item(i).getTextContent().trim();
      }
    }
    throw new AssertionError("no <version> in " + pom);
  }

  static String kubectlVersion() {
    try {
      Result r = run(List.of("kubectl", "version", "--client"));
      return r.exit == 0 ? r.out : null;
    } catch (IOException e) {
      return null;
    }
  }

  static String kustomize(Path dir) throws IOException {
    Result r = run(List.of("kubectl", "kustomize", dir.toString()));
    if (r.exit != 0) {
      fail("kubectl kustomize " + dir + " failed (" + r.exit + "):\n" + r.out);
    }
    return r.out;
  }

  record Result(int exit, String out) {}

  static Result run(List<String> command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (InputStream in = p.getInputStream()) {
      in.transferTo(out);
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail(command + " did not finish in 120 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8));
  }
}
