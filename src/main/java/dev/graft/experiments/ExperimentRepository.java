package dev.graft.experiments;

import io.quarkus.hibernate.orm.panache.PanacheRepository;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.Map;
import java.util.Optional;

@ApplicationScoped
public class ExperimentRepository implements PanacheRepository<Experiment> {

  public Optional<Experiment> findByName(String name) {
    return find("name", name).firstResultOptional();
  }

  /** One page, newest first, of the experiments older than {@code beforeId}. */
  public List<Experiment> page(long beforeId, String tag, int limit) {
    Sort newestFirst = Sort.by("id", Sort.Direction.Descending);
    if (tag == null || tag.isEmpty()) {
      return find("id < :before", newestFirst, Map.of("before", beforeId)).page(0, limit).list();
    }
    return find(
            "id < :before and array_contains(tags, :tag)",
            newestFirst,
            Map.of("before", beforeId, "tag", tag))
        .page(0, limit)
        .list();
  }

  /** How many runs each of the given experiments has. */
  public Map<Long, Long> runCounts(List<Long> experimentIds) {
    if (experimentIds.isEmpty()) {
      return Map.of();
    }
    List<Object[]> rows =
        getEntityManager()
            .createQuery(
                "select r.experimentId, count(r) from Run r where r.experimentId in :ids"
                    + " group by r.experimentId",
                Object[].class)
            .setParameter("ids", experimentIds)
            .getResultList();
    return rows.stream()
        .collect(
            java.util.stream.Collectors.toMap(r -> (Long) r[0], r -> ((Number) r[1]).longValue()));
  }
}
