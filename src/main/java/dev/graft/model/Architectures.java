package dev.graft.model;

import dev.graft.core.GraftException;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Registry of the built-in architectures by name. */
public final class Architectures {

  private static final Map<String, Function<InputSpec, Architecture>> FACTORIES =
      Map.of(
          Mlp.NAME, Mlp::new,
          CnnSmall.NAME, CnnSmall::new,
          ResNetMini.NAME, ResNetMini::new,
          MobileNetV2Mini.NAME, MobileNetV2Mini::new);

  private static final List<String> NAMES =
      List.of(Mlp.NAME, CnnSmall.NAME, ResNetMini.NAME, MobileNetV2Mini.NAME);

  private Architectures() {}

  /** Names of the built-in architectures. */
  public static List<String> names() {
    return NAMES;
  }

  /**
   * The architecture with its default input: 784 features for {@code mlp}, a 1x28x28 image for the
   * others.
   */
  public static Architecture get(String name) {
    return get(name, defaultInput(name));
  }

  /** The architecture for a given input, with its default widths. */
  public static Architecture get(String name, InputSpec input) {
    return factory(name).apply(input);
  }

  /** The default input of an architecture. */
  public static InputSpec defaultInput(String name) {
    factory(name);
    return Mlp.NAME.equals(name) ? InputSpec.features(28 * 28) : InputSpec.image(1, 28, 28);
  }

  private static Function<InputSpec, Architecture> factory(String name) {
    Function<InputSpec, Architecture> factory = name == null ? null : FACTORIES.get(name);
    if (factory == null) {
      throw new GraftException.InvalidArgument(
          "unknown architecture '" + name + "', expected one of " + NAMES);
    }
    return factory;
  }
}
