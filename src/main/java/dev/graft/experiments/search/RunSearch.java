package dev.graft.experiments.search;

import dev.graft.core.GraftException;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.sql.DataSource;

/**
 * Runs a search: parses the filter and ordering, compiles them to one parameterised query over the
 * run table and the per-run metric summary, and pages by keyset. Returns run ids only; the caller
 * loads what it shows.
 */
@ApplicationScoped
public class RunSearch {

  /** Largest page. */
  public static final int MAX_PAGE = 1000;

  private static final int DEFAULT_PAGE = 50;

  private final DataSource dataSource;

  RunSearch(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /** What to search. */
  public record Query(
      String filter,
      List<String> orderBy,
      List<Long> experimentIds,
      int pageSize,
      String pageToken) {}

  /** One page of matching run ids, in order. */
  public record Page(List<Long> runIds, String nextPageToken) {}

  /** The SQL a query compiles to, for EXPLAIN in benchmarks and for tests. */
  public record Compiled(String sql, List<Object> parameters) {}

  public Page search(Query q) {
    int size = pageSize(q.pageSize());
    Plan plan = plan(q);
    Sql sql = plan.sql(size + 1);
    List<Long> ids = new ArrayList<>();
    List<List<Object>> keys = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement st = prepare(c, sql)) {
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getLong(1));
          List<Object> row = new ArrayList<>();
          for (int i = 0; i < plan.columns(); i++) {
            Object v = rs.getObject(i + 2);
            row.add(
                v == null ? null : v instanceof Number n ? (Object) n.doubleValue() : v.toString());
          }
          keys.add(row);
        }
      }
    } catch (SQLException e) {
      throw new GraftException.Unavailable("the experiment store could not run the search", e);
    }
    if (ids.size() <= size) {
      return new Page(ids, "");
    }
    ids = ids.subList(0, size);
    SearchToken next = new SearchToken(plan.fingerprint(), keys.get(size - 1), ids.get(size - 1));
    return new Page(List.copyOf(ids), next.encode());
  }

  /** The SQL of the first page of {@code q}. */
  public Compiled compile(Query q) {
    Sql sql = plan(q).sql(pageSize(q.pageSize()) + 1);
    return new Compiled(sql.text(), sql.parameters());
  }

  /** Binds {@code sql}'s parameters to a statement on {@code c}. */
  public static PreparedStatement prepare(Connection c, Compiled sql) throws SQLException {
    PreparedStatement st = c.prepareStatement(sql.sql());
    bind(st, sql.parameters());
    return st;
  }

  private static PreparedStatement prepare(Connection c, Sql sql) throws SQLException {
    return prepare(c, new Compiled(sql.text(), sql.parameters()));
  }

  private static void bind(PreparedStatement st, List<Object> params) throws SQLException {
    for (int i = 0; i < params.size(); i++) {
      Object p = params.get(i);
      if (p instanceof Double d) {
        st.setDouble(i + 1, d);
      } else if (p instanceof Long l) {
        st.setLong(i + 1, l);
      } else if (p instanceof Boolean b) {
        st.setBoolean(i + 1, b);
      } else if (p instanceof OffsetDateTime t) {
        st.setObject(i + 1, t);
      } else {
        st.setString(i + 1, (String) p);
      }
    }
  }

  private static int pageSize(int pageSize) {
    if (pageSize < 0 || pageSize > MAX_PAGE) {
      throw new GraftException.InvalidArgument(
          "page_size "
              + pageSize
              + " is out of range: use 1-"
              + MAX_PAGE
              + ", or 0 for "
              + DEFAULT_PAGE);
    }
    return pageSize == 0 ? DEFAULT_PAGE : pageSize;
  }

  private Plan plan(Query q) {
    Filter filter = FilterParser.parse(q.filter());
    List<OrderKey> order = new ArrayList<>();
    for (String key : q.orderBy()) {
      order.add(FilterParser.parseOrder(key));
    }
    if (order.isEmpty()) {
      order.add(new OrderKey(new Field.Attribute(Field.Attr.CREATED), true));
    }
    for (Long id : q.experimentIds()) {
      if (id == null || id <= 0) {
        throw new GraftException.InvalidArgument(
            "experiment_ids must be positive experiment ids; found " + id);
      }
    }
    String fingerprint =
        fingerprint(
            q.filter()
                + "\u0000"
                + String.join("\u0001", q.orderBy())
                + "\u0000"
                + q.experimentIds());
    SearchToken after =
        q.pageToken() == null || q.pageToken().isEmpty()
            ? null
            : SearchToken.decode(q.pageToken(), fingerprint, columns(order));
    return new Plan(filter, order, q.experimentIds(), after, fingerprint);
  }

  private static int columns(List<OrderKey> order) {
    SearchCompiler compiler = new SearchCompiler();
    int n = 0;
    for (OrderKey k : order) {
      n += compiler.sortValues(k.field()).size();
    }
    return n;
  }

  private static String fingerprint(String text) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A parsed query with its position. */
  private record Plan(
      Filter filter,
      List<OrderKey> order,
      List<Long> experiments,
      SearchToken after,
      String fingerprint) {

    int columns() {
      return RunSearch.columns(order);
    }

    /**
     * SELECT id, k0, k1, ... FROM (the filtered runs) WHERE (after the token) ORDER BY k0, k1, ...,
     * id LIMIT n. Missing values sort last in either direction; id breaks ties in the direction of
     * the first key.
     */
    Sql sql(int limit) {
      SearchCompiler compiler = new SearchCompiler();
      List<Sql> values = new ArrayList<>();
      List<Boolean> descending = new ArrayList<>();
      for (OrderKey k : order) {
        for (Sql v : compiler.sortValues(k.field())) {
          values.add(v);
          descending.add(k.descending());
        }
      }
      boolean idDescending = order.get(0).descending();
      Sql inner = new Sql().sql("SELECT r.id AS id");
      for (int i = 0; i < values.size(); i++) {
        inner.sql(", ").append(values.get(i)).sql(" AS k" + i);
      }
      Sql where = compiler.where(filter);
      inner
          .sql(
              " FROM run r JOIN experiment e ON e.id = r.experiment_id"
                  + " LEFT JOIN base_model b ON b.id = r.base_model_id"
                  + " LEFT JOIN dataset d ON d.id = r.dataset_id")
          .append(compiler.joins())
          .sql(" WHERE ")
          .append(where);
      if (!experiments.isEmpty()) {
        inner.sql(" AND r.experiment_id IN (").params(experiments).sql(")");
      }
      Sql out = new Sql().sql("SELECT q.* FROM (").append(inner).sql(") q");
      if (after != null) {
        out.sql(" WHERE ").append(after(values.size(), descending, idDescending));
      }
      out.sql(" ORDER BY ");
      for (int i = 0; i < values.size(); i++) {
        out.sql("q.k" + i + (descending.get(i) ? " DESC" : " ASC") + " NULLS LAST, ");
      }
      out.sql("q.id" + (idDescending ? " DESC" : " ASC") + " LIMIT ").param((long) limit);
      return out;
    }

    /** (k0 after v0) OR (k0 = v0 AND k1 after v1) OR ... OR (all equal AND id after). */
    private Sql after(int n, List<Boolean> descending, boolean idDescending) {
      Sql out = new Sql().sql("(");
      for (int i = 0; i <= n; i++) {
        out.sql(i == 0 ? "(" : " OR (");
        for (int j = 0; j < i; j++) {
          equal(out, j);
          out.sql(" AND ");
        }
        if (i < n) {
          beyond(out, i, descending.get(i));
        } else {
          out.sql("q.id " + (idDescending ? "<" : ">") + " ").param(after.id());
        }
        out.sql(")");
      }
      return out.sql(")");
    }

    private void equal(Sql out, int j) {
      Object v = after.values().get(j);
      if (v == null) {
        out.sql("q.k" + j + " IS NULL");
      } else {
        out.sql("q.k" + j + " = ").param(v);
      }
    }

    /** Strictly after the token's value in this column; nothing comes after the nulls. */
    private void beyond(Sql out, int i, boolean desc) {
      Object v = after.values().get(i);
      if (v == null) {
        out.sql("FALSE");
      } else {
        out.sql("(q.k" + i + (desc ? " < " : " > ")).param(v).sql(" OR q.k" + i + " IS NULL)");
      }
    }
  }
}
