package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * Reads a CSV file of feature vectors: a header row, one label column, every other column a number.
 * Parsed by Commons CSV as RFC 4180 (quoted fields may hold commas, doubled quotes and line
 * breaks); blank lines are skipped. The file is streamed; discovering the classes is a separate
 * first pass over it.
 */
final class CsvImporter {

  private static final CSVFormat FORMAT =
      CSVFormat.RFC4180.builder().setIgnoreEmptyLines(true).get();

  private final Path file;
  private final List<String> header;
  private final int labelColumn;

  CsvImporter(Path file, String labelColumnName) {
    this.file = file;
    String name = labelColumnName == null || labelColumnName.isEmpty() ? "label" : labelColumnName;
    try (CSVParser parser = open()) {
      Iterator<CSVRecord> it = parser.iterator();
      if (!it.hasNext()) {
        throw new GraftException.InvalidArgument(
            "CSV file " + file.getFileName() + " is empty; it needs a header row");
      }
      this.header = it.next().toList();
    } catch (IOException e) {
      if (Utf8.isMalformed(e)) {
        throw malformed(new UncheckedIOException(e));
      }
      throw new UncheckedIOException(e);
    } catch (UncheckedIOException | IllegalStateException e) {
      throw malformed(e);
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
    return sortLabels(labels);
  }

  /** Distinct labels in class order: numerically when all are numbers, else by text. */
  static List<String> sortLabels(Collection<String> labels) {
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
    try (CSVParser parser = open()) {
      Iterator<CSVRecord> it = parser.iterator();
      it.next(); // the header
      long before = parser.getCurrentLineNumber();
      while (it.hasNext()) {
        CSVRecord record = it.next();
        // The line the record ends on (a quoted field may span lines).
        long line = Math.max(parser.getCurrentLineNumber(), before + 1);
        before = line;
        if (record.size() != header.size()) {
          throw new GraftException.InvalidArgument(
              "CSV line "
                  + line
                  + " has "
                  + record.size()
                  + " columns but the header has "
                  + header.size()
                  + "; every row needs the same number of features");
        }
        handler.row(line, record.toList());
      }
    } catch (IOException e) {
      if (Utf8.isMalformed(e)) {
        throw malformed(new UncheckedIOException(e));
      }
      throw new UncheckedIOException(e);
    } catch (UncheckedIOException | IllegalStateException e) {
      throw malformed(e);
    }
  }

  private CSVParser open() throws IOException {
    return open(file);
  }

  /** A strict UTF-8 RFC 4180 parser of a file, byte order mark skipped. */
  static CSVParser open(Path file) throws IOException {
    return CSVParser.parse(Utf8.reader(file), FORMAT);
  }

  /** Commons CSV's parse errors name the line (never a path): passed on as INVALID_ARGUMENT. */
  private GraftException malformed(RuntimeException e) {
    return malformed(file, e);
  }

  static GraftException malformed(Path file, Throwable e) {
    if (Utf8.isMalformed(e)) {
      return Utf8.invalidFile(file, "CSV file " + file.getFileName());
    }
    Throwable cause = e.getCause() != null ? e.getCause() : e;
    return new GraftException.InvalidArgument(
        "CSV file " + file.getFileName() + " is malformed: " + cause.getMessage());
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
