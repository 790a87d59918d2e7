package io.millrace.ingest.http;

import io.helidon.http.encoding.ContentDecoder;
import io.helidon.http.encoding.ContentEncoder;
import io.helidon.http.encoding.ContentEncoding;
import java.util.List;
import java.util.Set;

/**
 * Content encodings the server passes through untouched, so {@link BodyReader} decodes gzip itself
 * and counts the decompressed bytes against MAX_BODY_BYTES, and answers 415 for the rest.
 */
final class PassThroughEncodings {
  private PassThroughEncodings() {}

  /** {@return gzip, deflate, br, zstd and compress, each decoded as a no-op} */
  static List<ContentEncoding> all() {
    return List.of(
        passThrough("gzip", "x-gzip"),
        passThrough("deflate"),
        passThrough("br"),
        passThrough("zstd"),
        passThrough("compress", "x-compress"));
  }

  private static ContentEncoding passThrough(String... ids) {
    return new ContentEncoding() {
      @Override
      public Set<String> ids() {
        return Set.of(ids);
      }

      @Override
      public boolean supportsEncoding() {
        return false;
      }

      @Override
      public boolean supportsDecoding() {
        return true;
      }

      @Override
      public ContentDecoder decoder() {
        return ContentDecoder.NO_OP;
      }

      @Override
      public ContentEncoder encoder() {
        return ContentEncoder.NO_OP;
      }

      @Override
      public String name() {
        return ids[0];
      }

      @Override
      public String type() {
        return ids[0];
      }
    };
  }
}
