package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Reads a folder of one subdirectory per class: the ImageFolder layout {@code
 * root/<class>/*.png|jpg|jpeg} ({@link #images}) or its text twin {@code root/<class>/*.txt}, UTF-8
 * ({@link #texts}). Classes and files are taken in sorted order so that the stored dataset (and its
 * hash) does not depend on the directory listing order. Hidden entries are skipped; every file and
 * class directory must resolve inside the allowed root.
 */
final class ClassFolderImporter {

  /** What one example file of a layout is and how it enters the dataset. */
  private record Layout(
      String folder,
      String pattern,
      String example,
      String file,
      Predicate<String> name,
      Adder adder) {}

  @FunctionalInterface
  private interface Adder {
    void add(DatasetBuilder builder, int label, byte[] bytes, String what);
  }

  private static final Layout IMAGES =
      new Layout(
          "image folder",
          "*.png",
          "image",
          "image file",
          n -> n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg"),
          DatasetBuilder::addEncodedImage);

  private static final Layout TEXTS =
      new Layout(
          "text folder",
          "*.txt",
          "text file",
          "text file",
          n -> n.endsWith(".txt"),
          (b, label, bytes, what) -> b.addText(label, Utf8.decode(bytes, what), what));

  private final Layout layout;
  private final Path dir;
  private final AllowedRoot root;

  private ClassFolderImporter(Layout layout, Path dir, AllowedRoot root) {
    if (!Files.isDirectory(dir)) {
      throw new GraftException.InvalidArgument(
          layout.folder()
              + " "
              + dir
              + " is not a directory; give the directory holding one subdirectory per class");
    }
    this.layout = layout;
    this.dir = dir;
    this.root = root;
  }

  /** PNG and JPEG images, decoded and checked by the builder. */
  static ClassFolderImporter images(Path dir, AllowedRoot root) {
    return new ClassFolderImporter(IMAGES, dir, root);
  }

  /** {@code .txt} files, strict UTF-8. */
  static ClassFolderImporter texts(Path dir, AllowedRoot root) {
    return new ClassFolderImporter(TEXTS, dir, root);
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
            layout.folder()
                + " "
                + dir
                + " has no class subdirectories (expected root/<class>/"
                + layout.pattern()
                + ")");
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
            "class '" + name + "' has no subdirectory in the " + layout.folder() + " " + dir);
      }
      classDir = root.checkInside(classDir, "class directory");
      for (Path file : examplesOf(classDir)) {
        String what =
            layout.example() + " '" + name + "/" + file.getFileName() + "' (example " + index + ")";
        Path real = root.checkInside(file, layout.file());
        layout.adder().add(builder, label, read(real, what, maxExampleBytes), what);
        index++;
      }
    }
  }

  private List<Path> examplesOf(Path classDir) {
    try (Stream<Path> entries = Files.list(classDir)) {
      return entries.filter(this::isExampleName).filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private boolean isExampleName(Path p) {
    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
    return !n.startsWith(".") && layout.name().test(n);
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
