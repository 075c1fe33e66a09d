package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads a CSV file of feature vectors: a header row, one label column, every other column a number.
 * Quoted fields (RFC 4180, without line breaks inside) are understood. The file is read line by
 * line; discovering the classes is a separate first pass over it.
 */
final class CsvImporter {

  private final Path file;
  private final List<String> header;
  private final int labelColumn;

  CsvImporter(Path file, String labelColumnName) {
    this.file = file;
    String name = labelColumnName == null || labelColumnName.isEmpty() ? "label" : labelColumnName;
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String first = in.readLine();
      if (first == null || first.isBlank()) {
        throw new GraftException.InvalidArgument(
            "CSV file " + file.getFileName() + " is empty; it needs a header row");
      }
      if (first.startsWith("\uFEFF")) {
        first = first.substring(1);
      }
      this.header = split(first, 1);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.labelColumn = header.indexOf(name);
    if (labelColumn < 0) {
      throw new GraftException.InvalidArgument(
          "CSV file "
              + file.getFileName()
              + " has no column '"
              + name
              + "' for the label; its columns are "
              + header
              + " (set label_column)");
    }
    if (header.size() < 2) {
      throw new GraftException.InvalidArgument(
          "CSV file " + file.getFileName() + " has no feature column besides '" + name + "'");
    }
  }

  /** The distinct labels, sorted: numerically when all are numbers, else by text. */
  List<String> discoverClasses(int maxClasses) {
    Set<String> labels = new LinkedHashSet<>();
    forEachRow(
        (line, fields) -> {
          if (labels.add(fields.get(labelColumn)) && labels.size() > maxClasses) {
            throw new GraftException.ResourceExhausted(
                "CSV file "
                    + file.getFileName()
                    + " has more than "
                    + maxClasses
                    + " distinct labels (graft.data.max-classes)");
          }
        });
    List<String> sorted = new ArrayList<>(labels);
    if (sorted.stream().allMatch(CsvImporter::isNumber)) {
      sorted.sort(Comparator.comparingDouble(Double::parseDouble));
    } else {
      sorted.sort(Comparator.naturalOrder());
    }
    return sorted;
  }

  void read(DatasetBuilder builder) {
    float[] features = new float[header.size() - 1];
    forEachRow(
        (line, fields) -> {
          String what = "CSV line " + line;
          int label = builder.label(fields.get(labelColumn), what);
          int f = 0;
          for (int c = 0; c < fields.size(); c++) {
            if (c == labelColumn) {
              continue;
            }
            String value = fields.get(c).trim();
            try {
              features[f++] = Float.parseFloat(value);
            } catch (NumberFormatException e) {
              throw new GraftException.InvalidArgument(
                  what + ": column '" + header.get(c) + "' holds '" + value + "', not a number");
            }
          }
          builder.addFeatures(label, features, what);
        });
  }

  private interface RowHandler {
    void row(long line, List<String> fields);
  }

  private void forEachRow(RowHandler handler) {
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      in.readLine();
      long line = 1;
      String text;
      while ((text = in.readLine()) != null) {
        line++;
        if (text.isBlank()) {
          continue;
        }
        List<String> fields = split(text, line);
        if (fields.size() != header.size()) {
          throw new GraftException.InvalidArgument(
              "CSV line "
                  + line
                  + " has "
                  + fields.size()
                  + " columns but the header has "
                  + header.size()
                  + "; every row needs the same number of features");
        }
        handler.row(line, fields);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<String> split(String line, long number) {
    List<String> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char ch = line.charAt(i);
      if (quoted) {
        if (ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else if (ch == '"') {
          quoted = false;
        } else {
          field.append(ch);
        }
      } else if (ch == '"') {
        quoted = true;
      } else if (ch == ',') {
        fields.add(field.toString());
        field.setLength(0);
      } else {
        field.append(ch);
      }
    }
    if (quoted) {
      throw new GraftException.InvalidArgument("CSV line " + number + " has an unclosed quote");
    }
    fields.add(field.toString());
    return fields;
  }

  private static boolean isNumber(String s) {
    try {
      Double.parseDouble(s.trim());
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }
}
