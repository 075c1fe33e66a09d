package dev.graft.access;

import java.util.Locale;

/** What a caller may do; each role may do everything the roles before it may. */
public enum Role {
  READER,
  TRAINER,
  ADMIN,
  /** Auth off: the local single-user role that may call everything. */
  ALL;

  public boolean mayCall(Role needed) {
    return compareTo(needed) >= 0;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  static Role parse(String text) {
    for (Role role : values()) {
      if (role != ALL && role.label().equals(text.trim().toLowerCase(Locale.ROOT))) {
        return role;
      }
    }
    throw new IllegalArgumentException(
        "unknown role '" + text + "' in graft.auth.keys, expected reader, trainer or admin");
  }
}
