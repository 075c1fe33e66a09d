package dev.graft.core;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** Which role this process plays ({@code graft.role}: all, api, trainer, inference). */
@ApplicationScoped
public class RoleConfig {

  private final ServiceRole role;

  RoleConfig(@ConfigProperty(name = "graft.role", defaultValue = "all") String role) {
    this.role = parse(role);
  }

  /** {@code all} (the default) runs everything in one process, as a single install does. */
  public ServiceRole role() {
    return role;
  }

  static ServiceRole parse(String value) {
    try {
      return ServiceRole.valueOf(value.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "graft.role is '"
              + value
              + "'; use one of "
              + Arrays.stream(ServiceRole.values())
                  .map(r -> r.name().toLowerCase(Locale.ROOT))
                  .collect(Collectors.joining(", ")),
          e);
    }
  }
}
