package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * Reads a CSV file of labelled texts: a header row naming a text column and a label column (other
 * columns are ignored). Parsed by Commons CSV as RFC 4180, so a quoted text may hold commas,
 * doubled quotes and line breaks; strict UTF-8. Errors name the line a record starts on. The file
 * is streamed; discovering the classes is a separate first pass over it.
 */
final class TextCsvImporter {

  private final Path file;
  private final List<String> header;
  private final int textColumn;
  private final int labelColumn;

  TextCsvImporter(Path file, String textColumnName, String labelColumnName) {
    this.file = file;
    String text = orDefault(textColumnName, "text");
    String label = orDefault(labelColumnName, "label");
    try (CSVParser parser = CsvImporter.open(file)) {
      Iterator<CSVRecord> it = parser.iterator();
      if (!it.hasNext()) {
        throw new GraftException.InvalidArgument(
            "CSV file " + file.getFileName() + " is empty; it needs a header row");
      }
      this.header = it.next().toList();
    } catch (IOException | UncheckedIOException | IllegalStateException e) {
      throw CsvImporter.malformed(file, e);
    }
    this.textColumn = column(text, "text", "text_column");
    this.labelColumn = column(label, "label", "label_column");
    if (textColumn == labelColumn) {
      throw new GraftException.InvalidArgument(
          "text_column and label_column are both '" + text + "'; name two different columns");
    }
  }

  private static String orDefault(String name, String fallback) {
    return name == null || name.isEmpty() ? fallback : name;
  }

  private int column(String name, String role, String field) {
    int index = header.indexOf(name);
    if (index < 0) {
      throw new GraftException.InvalidArgument(
          "CSV file "
              + file.getFileName()
              + " has no column '"
              + name
              + "' for the "
              + role
              + "; its header row names "
              + header
              + " (set "
              + field
              + ")");
    }
    return index;
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
    return CsvImporter.sortLabels(labels);
  }

  void read(DatasetBuilder builder) {
    forEachRow(
        (line, fields) -> {
          String what = "CSV line " + line;
          int label = builder.label(fields.get(labelColumn), what);
          builder.addText(label, fields.get(textColumn), what);
        });
  }

  private interface RowHandler {
    void row(long line, List<String> fields);
  }

  private void forEachRow(RowHandler handler) {
    try (CSVParser parser = CsvImporter.open(file)) {
      Iterator<CSVRecord> it = parser.iterator();
      it.next(); // the header
      long linesBefore = parser.getCurrentLineNumber();
      while (it.hasNext()) {
        CSVRecord record = it.next();
        // The line the record starts on (a quoted field may span lines; blank lines are skipped).
        long line = firstLine(record, linesBefore);
        linesBefore = parser.getCurrentLineNumber();
        if (record.size() != header.size()) {
          throw new GraftException.InvalidArgument(
              "CSV line "
                  + line
                  + " has "
                  + record.size()
                  + " columns but the header has "
                  + header.size()
                  + " ("
                  + header
                  + "); quote a text that holds commas");
        }
        handler.row(line, record.toList());
      }
    } catch (IOException | UncheckedIOException | IllegalStateException e) {
      throw CsvImporter.malformed(file, e);
    }
  }

  private static long firstLine(CSVRecord record, long linesBefore) {
    return linesBefore + 1;
  }
}
