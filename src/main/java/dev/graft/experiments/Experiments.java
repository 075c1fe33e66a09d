package dev.graft.experiments;

import dev.graft.core.GraftException;
import dev.graft.core.PageToken;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.hibernate.exception.ConstraintViolationException;

/** Creating, reading, listing and updating experiments. */
@ApplicationScoped
public class Experiments {

  static final int DEFAULT_PAGE_SIZE = 50;
  static final int MAX_PAGE_SIZE = 1000;
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");
  private static final int MAX_DESCRIPTION = 4096;
  private static final int MAX_TAGS = 32;
  private static final int MAX_TAG_LENGTH = 64;

  private final ExperimentRepository repository;

  Experiments(ExperimentRepository repository) {
    this.repository = repository;
  }

  @Transactional
  public ExperimentInfo create(String name, String description, List<String> tags) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new GraftException.InvalidArgument(
          "name '"
              + name
              + "' is not valid: use 1-128 characters of letters, digits, '.', '_' and '-'");
    }
    if (repository.findByName(name).isPresent()) {
      throw new GraftException.AlreadyExists(
          "an experiment named '" + name + "' already exists; choose another name");
    }
    Experiment e = new Experiment();
    e.name = name;
    e.description = checkDescription(description);
    e.tags = checkTags(tags);
    e.createdAt = now();
    e.updatedAt = e.createdAt;
    try {
      repository.persistAndFlush(e);
    } catch (ConstraintViolationException raced) {
      throw new GraftException.AlreadyExists(
          "an experiment named '" + name + "' already exists; choose another name");
    }
    return ExperimentInfo.of(e, 0);
  }

  @Transactional
  public ExperimentInfo get(long id) {
    Experiment e = find(id);
    return ExperimentInfo.of(e, repository.runCounts(List.of(id)).getOrDefault(id, 0L));
  }

  @Transactional
  public ExperimentPage list(int pageSize, String pageToken, String tag) {
    if (pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
      throw new GraftException.InvalidArgument(
          "page_size " + pageSize + " is out of range: use 1-" + MAX_PAGE_SIZE + ", or 0 for 50");
    }
    int size = pageSize == 0 ? DEFAULT_PAGE_SIZE : pageSize;
    long after = PageToken.decode(pageToken);
    // One extra row tells whether another page exists.
    List<Experiment> rows = repository.page(after, tag, size + 1);
    boolean more = rows.size() > size;
    List<Experiment> page = more ? rows.subList(0, size) : rows;
    var counts = repository.runCounts(page.stream().map(e -> e.id).toList());
    List<ExperimentInfo> items =
        page.stream().map(e -> ExperimentInfo.of(e, counts.getOrDefault(e.id, 0L))).toList();
    String next = more ? PageToken.encode(page.get(page.size() - 1).id) : "";
    return new ExperimentPage(items, next);
  }

  /** Replaces the description and/or the tags; an empty optional leaves that field alone. */
  @Transactional
  public ExperimentInfo update(long id, Optional<String> description, Optional<List<String>> tags) {
    Experiment e = find(id);
    description.ifPresent(d -> e.description = checkDescription(d));
    tags.ifPresent(t -> e.tags = checkTags(t));
    e.updatedAt = now();
    return ExperimentInfo.of(e, repository.runCounts(List.of(id)).getOrDefault(id, 0L));
  }

  /** Now, at the database's precision (microseconds), so that what we return is what we store. */
  private static Instant now() {
    return Instant.now().truncatedTo(ChronoUnit.MICROS);
  }

  private Experiment find(long id) {
    return repository
        .findByIdOptional(id)
        .orElseThrow(() -> new GraftException.NotFound("experiment", id));
  }

  private static String checkDescription(String description) {
    String d = description == null ? "" : description;
    if (d.length() > MAX_DESCRIPTION) {
      throw new GraftException.InvalidArgument(
          "description has " + d.length() + " characters; at most " + MAX_DESCRIPTION);
    }
    return d;
  }

  private static String[] checkTags(List<String> tags) {
    TreeSet<String> unique = new TreeSet<>();
    for (String tag : tags == null ? List.<String>of() : tags) {
      if (tag == null || tag.isBlank() || tag.length() > MAX_TAG_LENGTH) {
        throw new GraftException.InvalidArgument(
            "tag '" + tag + "' is not valid: use 1-" + MAX_TAG_LENGTH + " non-blank characters");
      }
      unique.add(tag);
    }
    if (unique.size() > MAX_TAGS) {
      throw new GraftException.InvalidArgument(
          unique.size() + " tags given; at most " + MAX_TAGS + " are allowed");
    }
    return unique.toArray(String[]::new);
  }
}
