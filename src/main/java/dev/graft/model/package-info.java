/**
 * Models as ONNX graphs: built-in architectures, head replacement, freezing, and the registry of
 * base models and trained model versions with their aliases.
 */
package dev.graft.model;
