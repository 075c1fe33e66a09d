// Run by Dockerfile.gpu's build stage (java FetchLibtorch.java, JDK 17 source launcher): makes
// DJL download the CUDA build of libtorch that matches pytorch-jni (DJL's own download, from
// DJL's servers; Maven Central has no CUDA libtorch for PyTorch 2.7.1) into DJL_CACHE_DIR.
// Loading it needs a GPU driver, which a build has not got: an UnsatisfiedLinkError after the
// download is expected; the files are checked by the Dockerfile.
public class FetchLibtorch {
  public static void main(String[] args) {
    System.setProperty("ai.djl.offline", "false");
    try {
      ai.djl.engine.Engine.getEngine("PyTorch");
      System.out.println("libtorch loaded");
    } catch (Throwable e) {
      System.out.println("libtorch downloaded, not loaded here (" + e + ")");
    }
  }
}
