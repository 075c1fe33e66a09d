package dev.graft.serving;

/** A class (index in the model's output and label) and its softmax probability. */
public record ClassScore(int index, String label, float score) {}
