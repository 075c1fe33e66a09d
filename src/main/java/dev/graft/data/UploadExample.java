package dev.graft.data;

/**
 * One uploaded example: the label by index ({@code labelName} null) or by name ({@code labelIndex}
 * null; both null when the client set neither), and an encoded image, a feature vector or a text as
 * the dataset's kind requires (the others empty).
 */
public record UploadExample(
    Integer labelIndex, String labelName, byte[] image, float[] features, String text) {}
