package dev.graft.core;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Files under the data directory: copied atomically and identified by their SHA-256. */
public final class Artifacts {

  private Artifacts() {}

  /**
   * Copies {@code source} to {@code target} through a temporary sibling renamed into place, so a
   * crash never leaves half a file under the final name; returns the copy's SHA-256 (hex).
   */
  public static String copyWithSha256(Path source, Path target) {
    try {
      Files.createDirectories(target.getParent());
      Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".part");
      MessageDigest sha = sha256Digest();
      try (InputStream in = Files.newInputStream(source);
          OutputStream out = new DigestOutputStream(Files.newOutputStream(tmp), sha)) {
        in.transferTo(out);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return HexFormat.of().formatHex(sha.digest());
    } catch (IOException e) {
      throw new UncheckedIOException("could not copy " + source + " to " + target, e);
    }
  }

  /** SHA-256 (hex) of a file, as {@code sha256sum} prints it. */
  public static String sha256(Path file) {
    MessageDigest sha = sha256Digest();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) > 0; ) {
        sha.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (IOException e) {
      throw new UncheckedIOException("could not read " + file, e);
    }
  }

  /** A fresh SHA-256 digest. */
  public static MessageDigest sha256Digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM lacks SHA-256", e);
    }
  }
}
