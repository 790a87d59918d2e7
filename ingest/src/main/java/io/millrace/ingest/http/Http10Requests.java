package io.millrace.ingest.http;

import io.helidon.common.buffers.DataReader;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.Queue;
import java.util.function.Supplier;

/**
 * The bytes Helidon's HTTP/1.1 parser reads on a connection that began with an HTTP/1.0 request:
 * each HTTP/1.0 request head is rewritten into an HTTP/1.1 one, everything else passes unchanged.
 *
 * <p>An HTTP/1.0 head becomes: the request line with {@code HTTP/1.1}; {@code Connection:
 * keep-alive} if the client asked for it (HTTP/1.0's opt-in persistence, RFC 9112 appendix C.2.2),
 * else {@code Connection: close}; no {@code Expect} (an HTTP/1.0 client does not understand {@code
 * 100 Continue}); a {@code Host} naming the local address if the request had none (HTTP/1.1
 * requires one). A request with {@code Transfer-Encoding} (which HTTP/1.0 does not define, RFC 9112
 * section 6.1) is served once and the connection closed. For every request head it records an
 * {@link Http10Exchange} in {@code exchanges}, in order, so that {@link Http10Responses} knows how
 * to write the answer; HTTP/1.1 requests on the same connection are recorded and passed as they
 * are.
 *
 * <p>To find where the next head starts it follows the body's {@code Content-Length}. A head it
 * cannot follow (too long, no known version, a chunked body) ends the rewriting: from then on the
 * bytes pass unchanged, and Helidon answers or rejects them as it would have.
 *
 * <p>Not thread-safe: Helidon calls it from the connection's thread only.
 */
final class Http10Requests implements Supplier<byte[]> {
  private static final byte[] NO_BYTES = new byte[0];

  private final DataReader source;
  private final Queue<Http10Exchange> exchanges;
  private final String host;
  private final int maxHead;

  private byte[] head = new byte[512];
  private int headLength;
  private long bodyLeft;
  private boolean passThrough; // framing no longer followed

  /**
   * @param source the connection's own reader (holds the bytes read to pick the protocol)
   * @param exchanges where each request's exchange is added, in order
   * @param host the {@code Host} value for a request without one: the local address
   * @param maxHead the longest request head followed; a longer one passes unchanged (and Helidon
   *     rejects it)
   */
  Http10Requests(DataReader source, Queue<Http10Exchange> exchanges, String host, int maxHead) {
    this.source = source;
    this.exchanges = exchanges;
    this.host = host;
    this.maxHead = maxHead;
  }

  /** {@return the next bytes for the HTTP/1.1 parser, or null at the end of the stream} */
  @Override
  public byte[] get() {
    while (true) {
      byte[] in;
      try {
        source.ensureAvailable();
        in = source.readBytes(source.available());
      } catch (DataReader.InsufficientDataAvailableException end) {
        if (headLength > 0) { // an incomplete head: let the parser see (and reject) it
          byte[] rest = Arrays.copyOf(head, headLength);
          headLength = 0;
          return rest;
        }
        return null;
      }
      byte[] out = rewrite(in);
      if (out.length > 0) {
        return out;
      }
    }
  }

  /** {@return what {@code in} becomes; empty while a head is still incomplete} */
  byte[] rewrite(byte[] in) {
    if (passThrough) {
      return in;
    }
    ByteArrayOutputStream out = null;
    int i = 0;
    while (i < in.length) {
      if (passThrough) {
        out = append(out, in, i, in.length - i);
        break;
      }
      if (bodyLeft > 0) {
        int n = (int) Math.min(bodyLeft, in.length - i);
        out = append(out, in, i, n);
        bodyLeft -= n;
        i += n;
        continue;
      }
      // a head: collect bytes up to the empty line
      if (headLength == 0) {
        while (i < in.length && (in[i] == '\r' || in[i] == '\n')) {
          i++; // empty lines before a request line are ignored (RFC 9112 section 2.2)
        }
        if (i == in.length) {
          break;
        }
      }
      int before = headLength;
      int from = Math.max(0, headLength - 3);
      int take = in.length - i;
      ensureHeadRoom(take);
      System.arraycopy(in, i, head, headLength, take);
      headLength += take;
      int end = endOfHead(from);
      if (end < 0) {
        if (headLength > maxHead) {
          passThrough = true;
          out = append(out, head, 0, headLength);
          headLength = 0;
        }
        break;
      }
      int consumedOfIn = end - before;
      out = append(out, rewriteHead(new String(head, 0, end, StandardCharsets.ISO_8859_1)));
      headLength = 0;
      i += consumedOfIn;
    }
    return out == null ? NO_BYTES : out.toByteArray();
  }

  /** {@return the index after the empty line ending the head, or -1} */
  private int endOfHead(int from) {
    for (int k = from; k + 3 < headLength; k++) {
      if (head[k] == '\r' && head[k + 1] == '\n' && head[k + 2] == '\r' && head[k + 3] == '\n') {
        return k + 4;
      }
    }
    return -1;
  }

  private byte[] rewriteHead(String text) {
    int eol = text.indexOf("\r\n");
    String requestLine = text.substring(0, eol);
    boolean http10 = requestLine.endsWith(" HTTP/1.0");
    boolean http11 = requestLine.endsWith(" HTTP/1.1");
    if (!http10 && !http11) {
      passThrough = true; // Helidon rejects it
      return text.getBytes(StandardCharsets.ISO_8859_1);
    }
    int sp = requestLine.indexOf(' ');
    boolean headMethod = sp == 4 && requestLine.startsWith("HEAD");
    StringBuilder rewritten = new StringBuilder(text.length() + 64);
    if (http10) {
      rewritten.append(requestLine, 0, requestLine.length() - 3).append("1.1\r\n");
    } else {
      rewritten.append(requestLine).append("\r\n");
    }
    boolean keepAliveAsked = false;
    boolean closeAsked = false;
    boolean hasHost = false;
    boolean chunked = false;
    String contentLength = null;
    int pos = eol + 2;
    while (pos < text.length() - 2) {
      int next = text.indexOf("\r\n", pos);
      String line = text.substring(pos, next);
      pos = next + 2;
      int colon = line.indexOf(':');
      String name = colon < 0 ? "" : line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = colon < 0 ? "" : line.substring(colon + 1).trim();
      switch (name) {
        case "connection" -> {
          for (String token : value.toLowerCase(Locale.ROOT).split(",")) {
            keepAliveAsked |= token.trim().equals("keep-alive");
            closeAsked |= token.trim().equals("close");
          }
          if (http10) {
            continue; // replaced below
          }
        }
        case "keep-alive", "expect" -> {
          if (http10) {
            continue;
          }
        }
        case "host" -> hasHost = true;
        case "transfer-encoding" -> chunked = true;
        case "content-length" -> {
          if (contentLength != null && !contentLength.equals(value)) {
            passThrough = true; // Helidon rejects conflicting lengths
          }
          contentLength = value;
        }
        default -> {}
      }
      rewritten.append(line).append("\r\n");
    }
    boolean keepAlive = http10 ? keepAliveAsked && !closeAsked && !chunked : !closeAsked;
    if (http10) {
      if (!hasHost) {
        rewritten.append("Host: ").append(host).append("\r\n");
      }
      rewritten.append(keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    }
    rewritten.append("\r\n");
    if (chunked) {
      passThrough = true; // the chunked body is Helidon's to read; this exchange is the last one
    } else if (contentLength != null) {
      try {
        bodyLeft = Long.parseLong(contentLength);
        if (bodyLeft < 0) {
          throw new NumberFormatException(contentLength);
        }
      } catch (NumberFormatException e) {
        bodyLeft = 0;
        passThrough = true; // Helidon rejects it
      }
    }
    exchanges.add(new Http10Exchange(http10, keepAlive, headMethod));
    return rewritten.toString().getBytes(StandardCharsets.ISO_8859_1);
  }

  private void ensureHeadRoom(int more) {
    if (headLength + more > head.length) {
      head = Arrays.copyOf(head, Math.max(head.length * 2, headLength + more));
    }
  }

  private static ByteArrayOutputStream append(ByteArrayOutputStream out, byte[] b, int off, int n) {
    ByteArrayOutputStream o = out == null ? new ByteArrayOutputStream(n + 64) : out;
    o.write(b, off, n);
    return o;
  }

  private static ByteArrayOutputStream append(ByteArrayOutputStream out, byte[] b) {
    return append(out, b, 0, b.length);
  }
}
