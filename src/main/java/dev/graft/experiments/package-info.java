/**
 * The experiment store: experiments, runs and their metric points in PostgreSQL, with search,
 * comparison and lineage, and the read-only JSON history API.
 */
package dev.graft.experiments;
