package dev.graft.core;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Opaque keyset page tokens: the id of the last item of the previous page. Keyset paging stays
 * correct while rows are inserted, unlike offsets.
 */
public final class PageToken {

  private static final String PREFIX = "after:";

  private PageToken() {}

  public static String encode(long lastId) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString((PREFIX + lastId).getBytes(StandardCharsets.UTF_8));
  }

  /** The id to continue after, or {@link Long#MAX_VALUE} for the first page. */
  public static long decode(String token) {
    if (token == null || token.isEmpty()) {
      return Long.MAX_VALUE;
    }
    try {
      String text = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      if (text.startsWith(PREFIX)) {
        return Long.parseLong(text.substring(PREFIX.length()));
      }
    } catch (IllegalArgumentException e) {
      // falls through to the error below; NumberFormatException is one too
    }
    throw new GraftException.InvalidArgument(
        "page_token '" + token + "' is not a token returned by a previous page; omit it to start");
  }
}
