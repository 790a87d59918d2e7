package io.millrace.ingest.http;

import io.helidon.http.HeaderNames;
import io.helidon.http.HttpException;
import io.helidon.http.RequestException;
import io.helidon.webserver.http.ServerRequest;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads a request body whole, within {@code MAX_BODY_BYTES}: as sent, and again after gzip
 * decompression (so a small gzip body cannot expand past the limit). Immutable and thread-safe;
 * {@link #read} blocks on the request's stream.
 */
final class BodyReader {
  private static final Problem UNSUPPORTED_ENCODING = new Problem.UnsupportedEncoding();
  private static final Problem BAD_GZIP = new Problem.BadGzip();

  private final long max;

  /**
   * @param maxBodyBytes the largest body accepted, compressed or not
   */
  BodyReader(long maxBodyBytes) {
    this.max = maxBodyBytes;
  }

  /**
   * Reads the body, decompressed if its {@code Content-Encoding} is gzip.
   *
   * @return the bytes, at most {@code maxBodyBytes}
   * @throws Rejected 415 for another encoding, 413 for a body over the limit (declared, sent or
   *     decompressed), 400 for corrupt gzip or a body that ends early
   * @throws RequestException or {@link HttpException}: the server's own verdicts, passed on
   */
  byte[] read(ServerRequest req) throws Rejected {
    boolean gzip = gzip(req);
    OptionalLong declared = req.headers().contentLength();
    if (declared.isPresent() && declared.getAsLong() > max) {
      throw tooLarge("the body is " + declared.getAsLong() + " bytes; MAX_BODY_BYTES is " + max);
    }
    try {
      int expected = declared.isPresent() ? (int) declared.getAsLong() : 8192;
      byte[] body = readAtMost(req.content().inputStream(), max, expected);
      if (body == null) {
        throw tooLarge("the body is over MAX_BODY_BYTES (" + max + ")");
      }
      return gzip ? gunzip(body) : body;
    } catch (RequestException | HttpException e) {
      throw e; // the server's own verdicts (413 from its payload limit, ...) go to its handler
    } catch (IOException | RuntimeException e) {
      // the connection ended before the body did (truncated body, wrong Content-Length, bad chunk)
      throw new Rejected(new Problem.IncompleteBody(e.getClass().getSimpleName()));
    }
  }

  private static boolean gzip(ServerRequest req) throws Rejected {
    String encoding =
        req.headers()
            .first(HeaderNames.CONTENT_ENCODING)
            .orElse("identity")
            .trim()
            .toLowerCase(Locale.ROOT);
    return switch (encoding) {
      case "gzip", "x-gzip" -> true;
      case "identity", "" -> false;
      default -> throw new Rejected(UNSUPPORTED_ENCODING);
    };
  }

  private byte[] gunzip(byte[] body) throws IOException, Rejected {
    byte[] out;
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(body), 8192)) {
      out = readAtMost(in, max, (int) Math.min(max, (long) body.length * 4));
    } catch (ZipException | EOFException e) {
      throw new Rejected(BAD_GZIP);
    }
    if (out == null) {
      throw tooLarge("the decompressed body is over MAX_BODY_BYTES (" + max + ")");
    }
    return out;
  }

  private static Rejected tooLarge(String detail) {
    return new Rejected(new Problem.TooLarge(detail));
  }

  /**
   * Reads the stream to its end; null if it holds more than {@code max} bytes.
   *
   * @param expected the likely size (the declared Content-Length): one exact buffer, read once
   */
  static byte[] readAtMost(InputStream in, long max, int expected) throws IOException {
    byte[] buf = new byte[(int) Math.min(max + 1, Math.max(expected + 1, 256))];
    int n = 0;
    while (true) {
      if (n == buf.length) {
        if (n > max) {
          return null;
        }
        buf = Arrays.copyOf(buf, (int) Math.min(max + 1, (long) buf.length * 2));
      }
      int r = in.read(buf, n, buf.length - n);
      if (r < 0) {
        break;
      }
      n += r;
      if (n > max) {
        return null;
      }
    }
    return n == buf.length ? buf : Arrays.copyOf(buf, n);
  }
}
