package dev.graft.access;

import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.PropertiesConfigSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * Turns {@code graft.tls.dir} (a mounted {@code kubernetes.io/tls} Secret: {@code tls.crt}, {@code
 * tls.key}, for mTLS also {@code ca.crt}) into the Quarkus settings of both servers: the gRPC
 * server and HTTP serve TLS only, and with {@code graft.tls.client-auth=required} the gRPC server
 * accepts only clients with a certificate signed by {@code ca.crt}. Its ordinal is below every file
 * and the environment, so a {@code quarkus.*} key set there still wins.
 */
public class TlsConfigSourceFactory implements ConfigSourceFactory {

  static final int ORDINAL = 110;

  @Override
  public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
    String dir = value(context, "graft.tls.dir");
    if (dir == null) {
      return List.of();
    }
    String clientAuth = value(context, "graft.tls.client-auth");
    return List.of(
        new PropertiesConfigSource(
            properties(Path.of(dir), clientAuth == null ? "none" : clientAuth),
            "graft.tls.dir",
            ORDINAL));
  }

  private static String value(ConfigSourceContext context, String name) {
    ConfigValue value = context.getValue(name);
    return value == null || value.getValue() == null || value.getValue().isBlank()
        ? null
        : value.getValue().trim();
  }

  /** The Quarkus settings for the certificate files in {@code dir}. */
  static Map<String, String> properties(Path dir, String clientAuth) {
    Path cert = required(dir, "tls.crt");
    Path key = required(dir, "tls.key");
    Map<String, String> p = new LinkedHashMap<>();
    p.put("quarkus.grpc.server.ssl.certificate", cert.toString());
    p.put("quarkus.grpc.server.ssl.key", key.toString());
    p.put("quarkus.http.ssl.certificate.files", cert.toString());
    p.put("quarkus.http.ssl.certificate.key-files", key.toString());
    p.put("quarkus.http.insecure-requests", "disabled");
    String mode = clientAuth.trim().toUpperCase(Locale.ROOT);
    switch (mode) {
      case "NONE":
        break;
      case "REQUEST":
      case "REQUIRED":
        String password = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
        p.put(
            "quarkus.grpc.server.ssl.trust-store",
            trustStore(required(dir, "ca.crt"), password).toString());
        p.put("quarkus.grpc.server.ssl.trust-store-type", "pkcs12");
        p.put("quarkus.grpc.server.ssl.trust-store-password", password);
        p.put("quarkus.grpc.server.ssl.client-auth", mode);
        break;
      default:
        throw new IllegalArgumentException(
            "graft.tls.client-auth is '" + clientAuth + "', expected none, request or required");
    }
    return p;
  }

  private static Path required(Path dir, String name) {
    Path file = dir.resolve(name).toAbsolutePath();
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException(
          "graft.tls.dir="
              + dir
              + " has no readable "
              + name
              + ": mount a kubernetes.io/tls Secret there (tls.crt, tls.key; ca.crt for"
              + " graft.tls.client-auth)");
    }
    return file;
  }

  /**
   * The CA certificates of {@code caPem} as a PKCS#12 trust store in a private temporary file: the
   * gRPC server reads trust stores only in that form, a Secret carries PEM.
   */
  private static Path trustStore(Path caPem, String password) {
    try (InputStream in = Files.newInputStream(caPem)) {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        store.setCertificateEntry("ca-" + i++, c);
      }
      if (i == 0) {
        throw new IllegalArgumentException(caPem + " holds no PEM certificate");
      }
      Path file =
          Files.createTempFile(
              "graft-client-ca",
              ".p12",
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      file.toFile().deleteOnExit();
      try (OutputStream out = Files.newOutputStream(file)) {
        store.store(out, password.toCharArray());
      }
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + caPem, e);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(caPem + " is not a PEM certificate bundle", e);
    }
  }
}
