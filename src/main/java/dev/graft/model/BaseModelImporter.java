package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.Artifacts;
import dev.graft.core.GraftException;
import dev.graft.core.StorageConfig;
import dev.graft.onnx.OnnxImport;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * Imports a user's pre-trained ONNX model as a base model, streamed in chunks to a staging file so
 * that large models are never held in memory, and checked by the model core before it is accepted:
 * opset and operators supported, the cut tensor exists and yields features.
 */
@ApplicationScoped
public class BaseModelImporter {

  private static final Logger LOG = Logger.getLogger(BaseModelImporter.class);

  /** Largest ONNX file accepted (bytes). */
  public static final long MAX_BYTES = 1L << 30;

  private final BaseModels baseModels;
  private final StorageConfig storage;

  BaseModelImporter(BaseModels baseModels, StorageConfig storage) {
    this.baseModels = baseModels;
    this.storage = storage;
  }

  /** What describes an imported model besides its bytes. */
  public record Header(
      String name,
      String featureTensor,
      Map<String, Object> preprocessing,
      List<Long> inputShape,
      List<String> classNames) {}

  /** An import in progress: chunks go to a staging file; close() discards an unfinished one. */
  public final class Upload implements AutoCloseable {
    private final Header header;
    private final Path staging;
    private final OutputStream out;
    private final MessageDigest sha256;
    private long size;
    private boolean committed;

    private Upload(Header header) throws IOException {
      this.header = header;
      this.staging = Files.createTempFile(stagingDir(), "base-model-", ".onnx");
      this.sha256 = Artifacts.sha256Digest();
      this.out = new DigestOutputStream(Files.newOutputStream(staging), sha256);
    }

    public void write(byte[] chunk) {
      if (committed) {
        throw new IllegalStateException("the import was committed already");
      }
      size += chunk.length;
      if (size > MAX_BYTES) {
        throw new GraftException.ResourceExhausted(
            "the ONNX file exceeds " + MAX_BYTES + " bytes; Graft accepts base models up to 1 GiB");
      }
      try {
        out.write(chunk);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /**
     * Checks the client's account of the whole file against the bytes received: a stream cut short
     * or corrupted on the way cannot be registered.
     */
    public void commit(long sizeBytes, String sha256Hex) {
      if (size == 0) {
        throw new GraftException.InvalidArgument("no ONNX bytes were sent after the header");
      }
      if (sizeBytes != size) {
        throw new GraftException.InvalidArgument(
            "the commit says "
                + sizeBytes
                + " bytes but "
                + size
                + " arrived; nothing was stored: send the whole file, then its size and SHA-256");
      }
      try {
        out.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      String received = HexFormat.of().formatHex(sha256.digest());
      if (!received.equalsIgnoreCase(sha256Hex)) {
        throw new GraftException.InvalidArgument(
            "the commit's sha256 '"
                + sha256Hex
                + "' differs from that of the "
                + size
                + " bytes received ("
                + received
                + "); nothing was stored: send the file's SHA-256 in lower-case hex");
      }
      committed = true;
    }

    /** Validates the committed file and registers the base model. */
    public BaseModelInfo finish() {
      if (!committed) {
        throw new IllegalStateException("finish() before a matching commit");
      }
      return register(header, staging);
    }

    /** Removes the staging file; a registered model was copied out of it already. */
    @Override
    public void close() {
      try {
        out.close();
        Files.deleteIfExists(staging);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /**
   * Removes the staging files of imports that a crash or a kill interrupted. Only the control plane
   * (api, all) imports, so only it cleans: the artifact directory is shared by every role.
   */
  void onStart(@Observes StartupEvent event, dev.graft.core.RoleConfig roles) {
    if (!roles.role().controls()) {
      return;
    }
    try (Stream<Path> stale = Files.list(stagingDir())) {
      for (Path p : stale.toList()) {
        LOG.infof("Removing the unfinished base model import %s", p.getFileName());
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      LOG.warnf("Could not clean the import staging directory: %s", e);
    }
  }

  /** Where imports in progress are written. */
  public Path stagingDir() throws IOException {
    Path dir = storage.area("staging");
    Files.createDirectories(dir);
    return dir;
  }

  /** Starts an import; refuses at once what the header alone shows is wrong. */
  public Upload start(Header header) {
    if (header.name() == null || header.name().isBlank()) {
      throw new GraftException.InvalidArgument("the header needs the base model's name");
    }
    if (baseModels.exists(header.name())) {
      throw new GraftException.AlreadyExists(
          "a base model named '" + header.name() + "' already exists; choose another name");
    }
    if (header.featureTensor() == null || header.featureTensor().isBlank()) {
      throw new GraftException.InvalidArgument(
          "the header needs feature_tensor: the tensor at which the new head is grafted");
    }
    try {
      return new Upload(header);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private BaseModelInfo register(Header header, Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // Errors name what the client sent, never the staging file.
    ModelProto model =
        OnnxImport.load(bytes, "the ONNX file sent for base model '" + header.name() + "'");
    ModelProto backbone = GraphSurgery.cut(model, header.featureTensor());
    long[] featureShape = GraphSurgery.featureShape(model, header.featureTensor());
    var input =
        backbone.getGraph().getInputList().stream()
            .filter(
                i ->
                    backbone.getGraph().getInitializerList().stream()
                        .noneMatch(t -> t.getName().equals(i.getName())))
            .toList();
    if (input.size() != 1) {
      throw new GraftException.InvalidArgument(
          "the backbone up to '"
              + header.featureTensor()
              + "' has "
              + input.size()
              + " inputs; Graft grafts heads onto single-input models");
    }
    List<Long> shape = new ArrayList<>();
    for (var d : input.get(0).getType().getTensorType().getShape().getDimList()) {
      shape.add(d.hasDimValue() ? d.getDimValue() : -1L);
    }
    boolean hasPreprocessing = header.preprocessing() != null && !header.preprocessing().isEmpty();
    if (!hasPreprocessing && shape.size() == 4) {
      throw new GraftException.InvalidArgument(
          "an image model needs preprocessing (channels, height, width, scale, mean, std)");
    }
    List<Long> exampleShape =
        header.inputShape() == null || header.inputShape().isEmpty()
            ? shape.subList(Math.min(1, shape.size()), shape.size())
            : header.inputShape();
    if (hasPreprocessing) {
      Map<String, Object> p = header.preprocessing();
      exampleShape =
          List.of(
              ((Number) p.get("channels")).longValue(),
              ((Number) p.get("height")).longValue(),
              ((Number) p.get("width")).longValue());
    }
    if (exampleShape.stream().anyMatch(d -> d < 1)) {
      throw new GraftException.InvalidArgument(
          "input '"
              + input.get(0).getName()
              + "' has dynamic dimensions "
              + shape
              + " after the batch; give the header's input_shape (or preprocessing for images)");
    }
    ImportTrial.run(
        backbone,
        header.featureTensor(),
        exampleShape.stream().mapToLong(Long::longValue).toArray(),
        input.get(0));
    Map<String, Object> inputSpec = new LinkedHashMap<>();
    inputSpec.put("name", input.get(0).getName());
    inputSpec.put(
        "shape",
        header.inputShape() == null || header.inputShape().isEmpty()
            ? shape.subList(1, shape.size())
            : header.inputShape());
    inputSpec.put("featureShape", java.util.Arrays.stream(featureShape).boxed().toList());
    return baseModels.register(
        new BaseModels.NewBaseModel(
            header.name(),
            "onnx",
            "IMPORTED",
            file,
            header.featureTensor(),
            inputSpec,
            header.preprocessing(),
            header.classNames(),
            Map.of(),
            null));
  }
}
