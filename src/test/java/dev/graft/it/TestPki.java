package dev.graft.it;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A throw-away CA made by the JDK's keytool, valid for two days: a server certificate for
 * localhost/127.0.0.1 in a directory laid out like a mounted {@code kubernetes.io/tls} Secret
 * ({@code tls.crt}, {@code tls.key}, {@code ca.crt}), and a client certificate for mTLS.
 */
final class TestPki {

  private static final String PASS = "test-only";

  final Path secretDir;
  final Path caCert;
  final Path clientCert;
  final Path clientKey;

  private TestPki(Path dir) {
    this.secretDir = dir.resolve("secret");
    this.caCert = secretDir.resolve("ca.crt");
    this.clientCert = dir.resolve("client.crt");
    this.clientKey = dir.resolve("client.key");
  }

  static TestPki create(Path dir) throws Exception {
    TestPki pki = new TestPki(dir);
    Files.createDirectories(pki.secretDir);
    Path ca = dir.resolve("ca.p12");
    keytool(
        "-genkeypair",
        "-alias",
        "ca",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-dname",
        "CN=graft test CA",
        "-ext",
        "bc:c",
        "-validity",
        "2",
        "-keystore",
        ca.toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASS);
    keytool(
        "-exportcert",
        "-rfc",
        "-alias",
        "ca",
        "-keystore",
        ca.toString(),
        "-storepass",
        PASS,
        "-file",
        pki.caCert.toString());
    pki.issue(
        dir,
        ca,
        "server",
        "CN=localhost",
        "SAN=dns:localhost,ip:127.0.0.1",
        "EKU=serverAuth",
        pki.secretDir.resolve("tls.crt"),
        pki.secretDir.resolve("tls.key"));
    pki.issue(
        dir,
        ca,
        "client",
        "CN=graft test client",
        null,
        "EKU=clientAuth",
        pki.clientCert,
        pki.clientKey);
    return pki;
  }

  /** A key pair signed by the CA, written as PEM certificate and PKCS#8 PEM key. */
  private void issue(
      Path dir, Path ca, String alias, String dname, String san, String eku, Path cert, Path key)
      throws Exception {
    Path store = dir.resolve(alias + ".p12");
    Path csr = dir.resolve(alias + ".csr");
    keytool(
        "-genkeypair",
        "-alias",
        alias,
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-dname",
        dname,
        "-validity",
        "2",
        "-keystore",
        store.toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASS);
    keytool(
        "-certreq",
        "-alias",
        alias,
        "-keystore",
        store.toString(),
        "-storepass",
        PASS,
        "-file",
        csr.toString());
    List<String> sign =
        new ArrayList<>(
            List.of(
                "-gencert",
                "-alias",
                "ca",
                "-keystore",
                ca.toString(),
                "-storepass",
                PASS,
                "-infile",
                csr.toString(),
                "-outfile",
                cert.toString(),
                "-rfc",
                "-validity",
                "2",
                "-ext",
                "KU=digitalSignature,keyEncipherment",
                "-ext",
                eku));
    if (san != null) {
      sign.add("-ext");
      sign.add(san);
    }
    keytool(sign.toArray(String[]::new));
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      ks.load(in, PASS.toCharArray());
    }
    PrivateKey privateKey = (PrivateKey) ks.getKey(alias, PASS.toCharArray());
    Files.writeString(
        key,
        "-----BEGIN PRIVATE KEY-----\n"
            + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(privateKey.getEncoded())
            + "\n-----END PRIVATE KEY-----\n");
  }

  /** A client TLS context that trusts only the test CA. */
  SSLContext clientContext() throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(caCert)) {
      trust.setCertificateEntry(
          "ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  private static void keytool(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("keytool " + String.join(" ", args) + " failed:\n" + out);
    }
  }
}
