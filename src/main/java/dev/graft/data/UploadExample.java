package dev.graft.data;

/**
 * One uploaded example: the label by index ({@code labelName} null) or by name ({@code labelIndex}
 * ignored; both unset is labelIndex -1 and labelName null), and an encoded image or a feature
 * vector as the dataset's kind requires (the other one empty).
 */
public record UploadExample(long labelIndex, String labelName, byte[] image, float[] features) {}
