package dev.graft.serving;

/**
 * One example to classify: an encoded image (PNG/JPEG), a vector of floats, or a text (for text
 * models, tokenised on the server with the model's own tokenizer).
 */
public record InferenceInput(byte[] image, float[] features, String text) {

  public static InferenceInput image(byte[] encoded) {
    return new InferenceInput(encoded, null, null);
  }

  public static InferenceInput features(float[] values) {
    return new InferenceInput(null, values, null);
  }

  public static InferenceInput text(String text) {
    return new InferenceInput(null, null, text);
  }

  public boolean isImage() {
    return image != null;
  }

  public boolean isText() {
    return text != null;
  }

  /** What kind of input this is, for messages. */
  String kind() {
    return isImage() ? "an image" : isText() ? "text" : "a feature vector";
  }
}
