package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Reads a folder of texts: {@code root/<class>/*.txt}, one UTF-8 example per file, classes and
 * files in sorted order so that the stored dataset (and its hash) does not depend on the directory
 * listing order. Hidden entries and other files are skipped; every file and class directory must
 * resolve inside the allowed root. A file's size is checked before it is read.
 */
final class TextFolderImporter {

  private final Path dir;
  private final AllowedRoot root;

  TextFolderImporter(Path dir, AllowedRoot root) {
    if (!Files.isDirectory(dir)) {
      throw new GraftException.InvalidArgument(
          "text folder "
              + dir
              + " is not a directory; give the directory holding one subdirectory per class");
    }
    this.dir = dir;
    this.root = root;
  }

  /** The subdirectory names, sorted. */
  List<String> discoverClasses() {
    try (Stream<Path> entries = Files.list(dir)) {
      List<String> classes =
          entries
              .filter(Files::isDirectory)
              .map(p -> p.getFileName().toString())
              .filter(n -> !n.startsWith("."))
              .sorted()
              .toList();
      if (classes.isEmpty()) {
        throw new GraftException.InvalidArgument(
            "text folder " + dir + " has no class subdirectories (expected root/<class>/*.txt)");
      }
      return classes;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  void read(DatasetBuilder builder, long maxExampleBytes) {
    long index = 0;
    for (int label = 0; label < builder.classNames().size(); label++) {
      String name = builder.classNames().get(label);
      Path classDir = dir.resolve(name);
      if (!Files.isDirectory(classDir) || !classDir.normalize().startsWith(dir)) {
        throw new GraftException.InvalidArgument(
            "class '" + name + "' has no subdirectory in the text folder " + dir);
      }
      classDir = root.checkInside(classDir, "class directory");
      for (Path file : textsOf(classDir)) {
        String what = "text file '" + name + "/" + file.getFileName() + "' (example " + index + ")";
        Path real = root.checkInside(file, "text file");
        builder.addText(label, Utf8.decode(read(real, what, maxExampleBytes), what), what);
        index++;
      }
    }
  }

  private static List<Path> textsOf(Path classDir) {
    try (Stream<Path> entries = Files.list(classDir)) {
      return entries
          .filter(TextFolderImporter::isTextName)
          .filter(Files::isRegularFile)
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static boolean isTextName(Path p) {
    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
    return !n.startsWith(".") && n.endsWith(".txt");
  }

  private static byte[] read(Path file, String what, long maxExampleBytes) {
    try {
      long size = Files.size(file);
      if (size > maxExampleBytes) {
        throw new GraftException.ResourceExhausted(
            what
                + " is "
                + size
                + " bytes; one example may have at most "
                + maxExampleBytes
                + " (graft.data.max-example-bytes)");
      }
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
