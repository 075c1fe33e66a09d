package dev.graft.core;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Files under the data directory: written atomically and durably, identified by their SHA-256.
 * Every published artifact (model version, base model, dataset) reaches its final name through a
 * temporary sibling that is fsynced, renamed into place, and whose directory is fsynced: readers on
 * any replica sharing the directory never see half a file, and a committed artifact survives a
 * crash of the machine.
 */
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
      try {
        try (InputStream in = Files.newInputStream(source);
            OutputStream out = new DigestOutputStream(Files.newOutputStream(tmp), sha)) {
          in.transferTo(out);
        }
        fsync(tmp);
        moveDurably(tmp, target);
      } finally {
        Files.deleteIfExists(tmp);
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (IOException e) {
      throw new UncheckedIOException("could not copy " + source + " to " + target, e);
    }
  }

  /**
   * Writes {@code bytes} to {@code target} through a fsynced temporary sibling renamed into place
   * (replacing an older file of that name), then fsyncs the directory.
   */
  public static void writeAtomically(Path target, byte[] bytes) {
    try {
      Path parent = target.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      Path tmp = Files.createTempFile(parent, target.getFileName().toString(), ".part");
      try {
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
          ByteBuffer b = ByteBuffer.wrap(bytes);
          while (b.hasRemaining()) {
            c.write(b);
          }
          c.force(true);
        }
        moveDurably(tmp, target);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not write " + target, e);
    }
  }

  /**
   * Renames a complete, fsynced file into place (replacing an older one) and fsyncs the directory
   * so that the rename itself survives a crash.
   */
  public static void moveDurably(Path source, Path target) throws IOException {
    Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory(target.toAbsolutePath().getParent());
  }

  /** Forces a file's contents to the disk. */
  public static void fsync(Path file) throws IOException {
    try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
      c.force(true);
    }
  }

  /** Makes a directory's entries (files created or renamed in it) durable. */
  public static void fsyncDirectory(Path directory) throws IOException {
    try (FileChannel c = FileChannel.open(directory, StandardOpenOption.READ)) {
      c.force(true);
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
