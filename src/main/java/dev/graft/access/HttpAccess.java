package dev.graft.access;

import dev.graft.core.HttpErrors;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The same keys, roles and per-client rate as gRPC for the JSON API under {@code /api/}: GET and
 * HEAD need reader, DELETE admin, anything else trainer. Health, metrics and the dashboard's static
 * files stay open. Refusals are {@code {"error": "..."}} like every other HTTP error.
 */
@ApplicationScoped
public class HttpAccess {

  static final String API = "/api/";

  private final boolean enabled;
  private final ApiKeys keys;
  private final ClientLimits limits;

  @Inject
  HttpAccess(AuthConfig auth, ClientLimits limits) {
    this.enabled = auth.enabled();
    this.keys = new ApiKeys(auth.keys());
    this.limits = limits;
  }

  void register(@Observes Filters filters) {
    // before every route, Quarkus REST's included
    filters.register(this::filter, 100);
  }

  /** The role an HTTP request needs, by what its method does. */
  public static Role needed(HttpMethod method) {
    if (HttpMethod.GET.equals(method)
        || HttpMethod.HEAD.equals(method)
        || HttpMethod.OPTIONS.equals(method)) {
      return Role.READER;
    }
    if (HttpMethod.DELETE.equals(method)) {
      return Role.ADMIN;
    }
    return Role.TRAINER;
  }

  private void filter(RoutingContext rc) {
    String path = rc.normalizedPath();
    if (!path.startsWith(API) && !path.equals("/api")) {
      rc.next();
      return;
    }
    HttpServerRequest request = rc.request();
    String authorization = request.getHeader(HttpHeaders.AUTHORIZATION);
    String apiKey = request.getHeader("x-api-key");
    String peer =
        request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
    if (!enabled) {
      if (withinRate(rc, limits.client(authorization, apiKey, peer))) {
        rc.next();
      }
      return;
    }
    String what = request.method().name() + " " + path;
    Role needed = needed(request.method());
    boolean audited = needed == Role.ADMIN;
    Optional<ApiKeys.Caller> caller = ApiKeys.keyFrom(authorization, apiKey).flatMap(keys::find);
    if (caller.isEmpty()) {
      if (audited) {
        AccessInterceptor.AUDIT.infof("http=%s role=none key=none peer=%s outcome=401", what, peer);
      }
      rc.response().putHeader("WWW-Authenticate", "Bearer realm=\"graft\"");
      refuse(rc, 401, AccessInterceptor.SEND_KEY);
      return;
    }
    ApiKeys.Caller who = caller.get();
    if (!who.role().mayCall(needed)) {
      if (audited) {
        AccessInterceptor.AUDIT.infof(
            "http=%s role=%s key=%s peer=%s outcome=403",
            what, who.role().label(), who.fingerprint(), peer);
      }
      refuse(
          rc,
          403,
          "role " + who.role().label() + " may not call " + what + "; it needs " + needed.label());
      return;
    }
    if (!withinRate(rc, limits.client(authorization, apiKey, peer))) {
      return;
    }
    if (audited) {
      rc.addEndHandler(
          done ->
              AccessInterceptor.AUDIT.infof(
                  "http=%s role=%s key=%s peer=%s outcome=%d",
                  what,
                  who.role().label(),
                  who.fingerprint(),
                  peer,
                  rc.response().getStatusCode()));
    }
    rc.next();
  }

  /** Takes one call from the client's bucket; answers 429 and false when it is empty. */
  private boolean withinRate(RoutingContext rc, String client) {
    OptionalLong wait = limits.acquire(client);
    if (wait.isEmpty()) {
      return true;
    }
    rc.response()
        .putHeader(HttpHeaders.RETRY_AFTER, Long.toString((wait.getAsLong() + 999) / 1000));
    refuse(rc, 429, limits.rateLimitText(client, wait.getAsLong()));
    return false;
  }

  private static void refuse(RoutingContext rc, int status, String message) {
    rc.response()
        .setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(HttpErrors.json(message));
  }
}
