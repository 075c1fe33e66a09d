package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The one directory server-side imports may read. Paths are compared after {@link Path#toRealPath}
 * resolves '..' and every symbolic link, so neither can lead outside.
 */
public final class AllowedRoot {

  private final Path root;

  public AllowedRoot(Path root) {
    try {
      Files.createDirectories(root);
      this.root = root.toRealPath();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the import root " + root, e);
    }
  }

  public Path path() {
    return root;
  }

  /**
   * The real path of a file or directory inside the root; relative paths are resolved against the
   * root. PERMISSION_DENIED when it lies outside, NOT_FOUND when it does not exist.
   */
  public Path resolve(String path, String what) {
    if (path == null || path.isBlank()) {
      throw new GraftException.InvalidArgument(what + " is empty: give a path under " + root);
    }
    Path requested;
    try {
      requested = root.resolve(path);
    } catch (InvalidPathException e) {
      throw new GraftException.InvalidArgument(what + " '" + path + "' is not a valid path");
    }
    // Refuse by the lexical form first, so that a path outside the root is denied whether or not
    // it exists: existence outside the root is none of the caller's business.
    if (!requested.normalize().startsWith(root)) {
      throw denied(path, what);
    }
    Path real;
    try {
      real = requested.toRealPath();
    } catch (NoSuchFileException e) {
      throw new GraftException.NotFound(what, "'" + path + "' under the import root " + root);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return check(real, path, what);
  }

  /** Checks that a path found while walking an import (e.g. a file in a folder) stays inside. */
  public Path checkInside(Path path, String what) {
    try {
      return check(path.toRealPath(), path.toString(), what);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Path check(Path real, String path, String what) {
    if (!real.startsWith(root)) {
      throw denied(path, what);
    }
    return real;
  }

  private GraftException denied(String path, String what) {
    return new GraftException.PermissionDenied(
        what
            + " '"
            + path
            + "' lies outside the import root "
            + root
            + " (after resolving '..' and symbolic links); copy the data under it or set"
            + " graft.data.allowed-root");
  }
}
