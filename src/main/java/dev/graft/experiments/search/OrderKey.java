package dev.graft.experiments.search;

/** One key of an ordering; runs without a value for it sort last either way. */
record OrderKey(Field field, boolean descending) {}
