/** Who may call what: API keys, their roles, and the table of which role each gRPC method needs. */
package dev.graft.access;
