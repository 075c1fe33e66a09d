/**
 * Notifications between the Graft processes of one installation, through the PostgreSQL they share
 * (LISTEN/NOTIFY; no broker): run events ({@code graft_run_events}) and model registry changes
 * ({@code graft_models}).
 */
package dev.graft.bus;
