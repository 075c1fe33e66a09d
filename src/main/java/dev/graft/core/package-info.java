/**
 * What every feature shares: the data directory, the database lifecycle (embedded PostgreSQL and
 * Flyway migrations) and the domain exceptions that the API maps to gRPC statuses.
 */
package dev.graft.core;
