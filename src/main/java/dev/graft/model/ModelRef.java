package dev.graft.model;

/**
 * Which version of a model a caller means: a version number ({@code version > 0}) or an alias
 * ({@link ModelVersions#DEFAULT_ALIAS} when neither is given).
 */
public record ModelRef(String name, int version, String alias) {

  public ModelRef {
    if (version > 0) {
      alias = null;
    } else {
      version = 0;
      alias = alias == null || alias.isEmpty() ? ModelVersions.DEFAULT_ALIAS : alias;
    }
  }

  public static ModelRef latest(String name) {
    return new ModelRef(name, 0, null);
  }

  public static ModelRef version(String name, int version) {
    return new ModelRef(name, version, null);
  }

  public static ModelRef alias(String name, String alias) {
    return new ModelRef(name, 0, alias);
  }

  public boolean byAlias() {
    return version == 0;
  }

  /** For messages: {@code model 'mnist' version 3} or {@code model 'mnist' alias 'latest'}. */
  public String describe() {
    return "model '" + name + "' " + (byAlias() ? "alias '" + alias + "'" : "version " + version);
  }

  @Override
  public String toString() {
    return describe();
  }
}
