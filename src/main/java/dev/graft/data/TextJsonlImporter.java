package dev.graft.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.core.GraftException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads a JSON Lines file of labelled texts: one JSON object per line, with a string text field and
 * a string or integer label field (other fields are ignored); blank lines are skipped. Strict
 * UTF-8, and every error names the line. A line is read only up to a bound (the per-example byte
 * limit, plus room for the rest of the object), so one endless line cannot fill the memory. The
 * file is streamed; discovering the classes is a separate first pass over it.
 */
final class TextJsonlImporter {

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final int LINE_SLACK = 1 << 16;

  private final Path file;
  private final String textField;
  private final String labelField;
  private final long maxLineChars;

  TextJsonlImporter(Path file, String textField, String labelField, long maxExampleBytes) {
    this.file = file;
    this.textField = textField == null || textField.isEmpty() ? "text" : textField;
    this.labelField = labelField == null || labelField.isEmpty() ? "label" : labelField;
    if (this.textField.equals(this.labelField)) {
      throw new GraftException.InvalidArgument(
          "text_column and label_column are both '" + this.textField + "'; name two fields");
    }
    // JSON escapes may make a text up to six times longer than its characters (\\uXXXX).
    this.maxLineChars = Math.min(Integer.MAX_VALUE - 8, 6 * maxExampleBytes + LINE_SLACK);
  }

  /** The distinct labels, sorted: numerically when all are numbers, else by text. */
  List<String> discoverClasses(int maxClasses) {
    Set<String> labels = new LinkedHashSet<>();
    forEachObject(
        (line, object) -> {
          if (labels.add(label(object, line)) && labels.size() > maxClasses) {
            throw new GraftException.ResourceExhausted(
                "JSONL file "
                    + file.getFileName()
                    + " has more than "
                    + maxClasses
                    + " distinct labels (graft.data.max-classes)");
          }
        });
    if (labels.isEmpty()) {
      throw new GraftException.InvalidArgument(
          "JSONL file " + file.getFileName() + " has no examples (every line is blank)");
    }
    return CsvImporter.sortLabels(labels);
  }

  void read(DatasetBuilder builder) {
    forEachObject(
        (line, object) -> {
          String what = "JSONL line " + line;
          int label = builder.label(label(object, line), what);
          builder.addText(label, text(object, line), what);
        });
  }

  private String label(JsonNode object, long line) {
    JsonNode value = field(object, labelField, "label_column", line);
    if (value.isTextual() || value.isIntegralNumber()) {
      return value.asText();
    }
    throw new GraftException.InvalidArgument(
        "JSONL line "
            + line
            + ": field '"
            + labelField
            + "' is "
            + describe(value)
            + "; a label must be a string (a class name) or an integer");
  }

  private String text(JsonNode object, long line) {
    JsonNode value = field(object, textField, "text_column", line);
    if (!value.isTextual()) {
      throw new GraftException.InvalidArgument(
          "JSONL line "
              + line
              + ": field '"
              + textField
              + "' is "
              + describe(value)
              + "; the text must be a string");
    }
    return value.textValue();
  }

  private JsonNode field(JsonNode object, String name, String option, long line) {
    JsonNode value = object.get(name);
    if (value == null) {
      List<String> names = new ArrayList<>();
      object.fieldNames().forEachRemaining(names::add);
      throw new GraftException.InvalidArgument(
          "JSONL line "
              + line
              + " has no field '"
              + name
              + "'; its fields are "
              + names
              + " (set "
              + option
              + ")");
    }
    return value;
  }

  private static String describe(JsonNode value) {
    if (value.isNull()) {
      return "null";
    }
    return "a JSON " + value.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
  }

  private interface ObjectHandler {
    void object(long line, JsonNode object);
  }

  private void forEachObject(ObjectHandler handler) {
    long line = 0;
    try (BufferedReader in = Utf8.reader(file)) {
      StringBuilder buffer = new StringBuilder();
      while (readLine(in, buffer, line + 1)) {
        line++;
        String text = buffer.toString();
        if (text.isBlank()) {
          continue;
        }
        JsonNode node;
        try {
          node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
          throw new GraftException.InvalidArgument(
              "JSONL line " + line + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
          throw new GraftException.InvalidArgument(
              "JSONL line "
                  + line
                  + " is "
                  + (node == null ? "empty" : describe(node))
                  + ", not a JSON object; write one object per line");
        }
        handler.object(line, node);
      }
    } catch (IOException e) {
      if (Utf8.isMalformed(e)) {
        throw Utf8.invalidFile(file, "JSONL file " + file.getFileName());
      }
      throw new UncheckedIOException(e);
    }
  }

  /** Reads one line (without its \n or \r\n) into {@code into}; false at the end of the file. */
  private boolean readLine(BufferedReader in, StringBuilder into, long number) throws IOException {
    into.setLength(0);
    int c = in.read();
    if (c < 0) {
      return false;
    }
    while (c >= 0 && c != '\n') {
      if (into.length() >= maxLineChars) {
        throw new GraftException.ResourceExhausted(
            "JSONL line "
                + number
                + " is longer than "
                + maxLineChars
                + " characters (graft.data.max-example-bytes bounds one example)");
      }
      into.append((char) c);
      c = in.read();
    }
    int n = into.length();
    if (n > 0 && into.charAt(n - 1) == '\r') {
      into.setLength(n - 1);
    }
    return true;
  }
}
