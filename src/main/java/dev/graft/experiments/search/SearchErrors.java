package dev.graft.experiments.search;

import dev.graft.core.GraftException;

/** Errors of filter and order-by texts: INVALID_ARGUMENT naming the 1-based position. */
final class SearchErrors {

  private SearchErrors() {}

  static GraftException.InvalidArgument at(String what, int position, String message) {
    return new GraftException.InvalidArgument(what + ": at position " + position + ": " + message);
  }
}
