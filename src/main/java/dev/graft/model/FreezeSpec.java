package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which initializers of a graph train. Only {@link GraphParameters.Role#WEIGHT weights} can be
 * trainable; BatchNorm running statistics and constants never are. Blocks are defined in {@link
 * GraphParameters}; the grafted head ({@code head.*}, see {@link GraphSurgery#appendHead}) trains
 * in every variant.
 */
public sealed interface FreezeSpec
    permits FreezeSpec.FrozenBackbone,
        FreezeSpec.NothingFrozen,
        FreezeSpec.LastBlocks,
        FreezeSpec.Patterns {

  /** Names of the initializers that train, in graph order (an unmodifiable set). */
  Set<String> trainable(ModelProto model);

  /** {@link #trainable} as a predicate on initializer names, for the training block. */
  default Predicate<String> predicate(ModelProto model) {
    Set<String> names = trainable(model);
    return names::contains;
  }

  /** Trainable and total learnable values under this spec. */
  default ParameterCounts counts(ModelProto model) {
    return GraphParameters.of(model).counts(trainable(model));
  }

  /** Transfer learning: everything before the cut is frozen, only {@code head.*} trains. */
  static FreezeSpec backbone() {
    return new FrozenBackbone();
  }

  /** Full fine-tuning: every weight trains. */
  static FreezeSpec none() {
    return new NothingFrozen();
  }

  /** Fine-tuning of the last {@code n} backbone blocks (automatic block keys) and the head. */
  static FreezeSpec lastBlocks(int n) {
    return new LastBlocks(n, GraphParameters.AUTO_DEPTH);
  }

  /**
   * Fine-tuning of the last {@code n} backbone blocks and the head, with blocks keyed by their
   * first {@code blockDepth} name components ({@link GraphParameters#AUTO_DEPTH} for automatic).
   */
  static FreezeSpec lastBlocks(int n, int blockDepth) {
    return new LastBlocks(n, blockDepth);
  }

  /**
   * The head plus the weights matching any entry, where an entry matches a name that starts with it
   * (a prefix such as {@code layer3.}) or that it matches entirely as a regular expression (such as
   * {@code layer[23]\..*}).
   */
  static FreezeSpec patterns(List<String> prefixesOrRegexes) {
    return new Patterns(prefixesOrRegexes);
  }

  /** Only the head trains. */
  record FrozenBackbone() implements FreezeSpec {
    @Override
    public Set<String> trainable(ModelProto model) {
      Set<String> head = head(GraphParameters.of(model));
      if (head.isEmpty()) {
        throw new GraftException.FailedPrecondition(
            "graph '"
                + model.getGraph().getName()
                + "' has no head.* weights, so freezing the backbone would train nothing;"
                + " graft a head with GraphSurgery.appendHead first");
      }
      return Collections.unmodifiableSet(head);
    }
  }

  /** Every weight trains. */
  record NothingFrozen() implements FreezeSpec {
    @Override
    public Set<String> trainable(ModelProto model) {
      return Collections.unmodifiableSet(new LinkedHashSet<>(GraphParameters.of(model).weights()));
    }
  }

  /**
   * The weights of the last {@code n} backbone blocks and of the head.
   *
   * @param n blocks to train, 0 meaning the head only
   * @param blockDepth name components per block key
   */
  record LastBlocks(int n, int blockDepth) implements FreezeSpec {
    public LastBlocks {
      if (n < 0 || blockDepth < 0) {
        throw new GraftException.InvalidArgument(
            "lastBlocks needs n >= 0 and block depth >= 0 (0: automatic), got n="
                + n
                + " depth="
                + blockDepth);
      }
    }

    @Override
    public Set<String> trainable(ModelProto model) {
      GraphParameters params = GraphParameters.of(model, blockDepth);
      List<String> blocks = params.blocks();
      if (n > blocks.size()) {
        throw new GraftException.InvalidArgument(
            "cannot train the last "
                + n
                + " blocks: graph '"
                + model.getGraph().getName()
                + "' has "
                + blocks.size()
                + " backbone blocks"
                + (blockDepth == GraphParameters.AUTO_DEPTH ? "" : " at depth " + blockDepth)
                + ": "
                + blocks);
      }
      Set<String> open = Set.copyOf(blocks.subList(blocks.size() - n, blocks.size()));
      Set<String> names = new LinkedHashSet<>();
      for (GraphParameters.Parameter p : params.all()) {
        boolean trains = open.contains(p.block()) || GraphParameters.HEAD_BLOCK.equals(p.block());
        if (p.role() == GraphParameters.Role.WEIGHT && trains) {
          names.add(p.name());
        }
      }
      return Collections.unmodifiableSet(names);
    }
  }

  /**
   * The head plus the weights matching any of the entries.
   *
   * @param entries name prefixes or regular expressions, each matching at least one weight or
   *     statistic
   */
  record Patterns(List<String> entries) implements FreezeSpec {
    public Patterns {
      entries = List.copyOf(entries);
      if (entries.isEmpty() || entries.stream().anyMatch(String::isEmpty)) {
        throw new GraftException.InvalidArgument(
            "freeze patterns must be non-empty strings, got "
                + entries
                + "; use FreezeSpec.backbone() to train the head only");
      }
    }

    @Override
    public Set<String> trainable(ModelProto model) {
      GraphParameters params = GraphParameters.of(model);
      Set<String> names = head(params);
      for (String entry : entries) {
        Pattern regex = compile(entry);
        boolean matched = false;
        for (GraphParameters.Parameter p : params.all()) {
          if (p.role() == GraphParameters.Role.CONSTANT) {
            continue;
          }
          if (p.name().startsWith(entry) || (regex != null && regex.matcher(p.name()).matches())) {
            matched = true;
            if (p.role() == GraphParameters.Role.WEIGHT) {
              names.add(p.name());
            }
          }
        }
        if (!matched) {
          throw new GraftException.InvalidArgument(
              "freeze pattern '"
                  + entry
                  + "' matches no parameter of graph '"
                  + model.getGraph().getName()
                  + "'; its blocks are "
                  + params.blocks());
        }
      }
      return Collections.unmodifiableSet(names);
    }

    private static Pattern compile(String entry) {
      try {
        return Pattern.compile(entry);
      } catch (PatternSyntaxException e) {
        return null; // a plain prefix such as "layer1.0.conv1[" is still a valid prefix
      }
    }
  }

  private static Set<String> head(GraphParameters params) {
    Set<String> names = new LinkedHashSet<>();
    for (GraphParameters.Parameter p : params.all()) {
      if (p.role() == GraphParameters.Role.WEIGHT && GraphSurgery.isHead(p.name())) {
        names.add(p.name());
      }
    }
    return names;
  }
}
