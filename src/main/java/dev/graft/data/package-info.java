/**
 * Datasets: upload, registration of server-side folders and files, validation and splits.
 *
 * <p>Every dataset, however it arrives ({@link dev.graft.data.Upload} for the gRPC stream, the IDX,
 * CSV, ImageFolder and MNIST JSON importers, the text folder, text CSV and text JSONL importers,
 * {@link dev.graft.data.SyntheticShapes}), goes through one {@link dev.graft.data.DatasetBuilder},
 * which validates each example, enforces the {@link dev.graft.data.DataConfig} limits and writes
 * the {@link dev.graft.data.DatasetFile} format to a staging file; {@link dev.graft.data.Datasets}
 * moves the finished file into place and records it. Training reads it back with {@link
 * dev.graft.data.DatasetReader} and splits it with {@link dev.graft.data.Splits}; images reach the
 * model through {@link dev.graft.data.Preprocessing}, from exact 8-bit {@link
 * dev.graft.data.Pixels}, in training and serving alike; texts reach a tokenizer through {@link
 * dev.graft.data.TextExamples}.
 */
package dev.graft.data;
