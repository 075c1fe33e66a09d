/**
 * Serving: ONNX Runtime sessions per model version, dynamic batching and execution provider
 * selection.
 *
 * <p>{@link dev.graft.serving.ModelRegistry} resolves a model reference (name + version or alias)
 * and keeps one {@link dev.graft.serving.ServedModel} per loaded version, loaded on first use or
 * when an alias moves to it, least recently used unloaded beyond {@code
 * graft.serving.max-loaded-models}. Each served model has one {@link dev.graft.serving.Batcher}
 * with its runner threads (one per core by default, each making one-thread runs), the only threads
 * that run its session: requests of all callers queue there and run together, one batch forming
 * while another computes; after an unload the queue drains and the last runner closes the session,
 * so no request in flight ever sees a closed session. {@link dev.graft.serving.Inference} is the
 * API the gRPC adapters call (labels and top-k from images or features, or raw tensors for KServe
 * v2).
 *
 * <p>Threads of one request, in the steady state (model loaded, alias resolved within {@code
 * graft.serving.alias-cache-ttl}, no images): the gRPC event loop parses it and queues it for its
 * model; one of the model's runner threads runs the batch and, when no other request waits,
 * completes it there (post-processing and handing the response to gRPC); under load one worker task
 * per batch does that instead, so the next batch starts at once. Only registry lookups, loading a
 * file and decoding images go to a worker first. Each thread hop costs tens of microseconds of CPU,
 * as much as a small model's run.
 *
 * <p>Exported models carry their class labels in the ONNX {@code metadata_props} key {@code
 * graft.labels} (a JSON array of strings in output order) and their image preprocessing in {@code
 * graft.preprocessing}; the registry's labels win when both exist. A version's metadata may set
 * {@code graft.serving.max-batch-size} and {@code graft.serving.max-queue-delay-ms}.
 */
package dev.graft.serving;
