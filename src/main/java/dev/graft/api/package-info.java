/**
 * The gRPC adapters: each service translates protobuf messages to domain calls and back, and
 * nothing more. No DJL, ONNX Runtime or JPA type appears here; {@link
 * dev.graft.api.GrpcErrorMapper} is the one place where domain exceptions become gRPC statuses.
 */
package dev.graft.api;
