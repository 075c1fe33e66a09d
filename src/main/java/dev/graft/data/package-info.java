/** Datasets: upload, registration of server-side folders and files, validation and splits. */
package dev.graft.data;
