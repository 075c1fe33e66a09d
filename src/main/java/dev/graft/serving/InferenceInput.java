package dev.graft.serving;

/** One example to classify: an encoded image (PNG/JPEG) or a vector of floats. */
public record InferenceInput(byte[] image, float[] features) {

  public static InferenceInput image(byte[] encoded) {
    return new InferenceInput(encoded, null);
  }

  public static InferenceInput features(float[] values) {
    return new InferenceInput(null, values);
  }

  public boolean isImage() {
    return image != null;
  }
}
