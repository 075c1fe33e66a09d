package dev.graft.model;

/**
 * CDI event fired when an alias is created or moved, delivered to {@code
 * TransactionPhase.AFTER_SUCCESS} observers once the move is committed (the serving layer loads the
 * new version and switches to it).
 */
public record ModelAliasMoved(String modelName, String alias, ModelVersionInfo version) {}
