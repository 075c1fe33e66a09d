/** Graft: transfer learning and fine-tuning of pre-trained networks, as a gRPC service. */
package dev.graft;
