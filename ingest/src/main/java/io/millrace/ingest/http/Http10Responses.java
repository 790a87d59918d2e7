package io.millrace.ingest.http;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.DataWriter;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The writer Helidon's HTTP/1.1 responses go through on a connection that began with an HTTP/1.0
 * request: each response to an HTTP/1.0 request ({@link Http10Exchange#http10()}) is rewritten into
 * an HTTP/1.0 one; responses to HTTP/1.1 requests pass unchanged.
 *
 * <p>An HTTP/1.0 response gets the status line {@code HTTP/1.0 <code> <reason>} and exactly one
 * {@code Connection} header: {@code keep-alive} when the client asked for it and the body is
 * delimited by {@code Content-Length} (or there is none), else {@code close}. HTTP/1.0 has no
 * chunked coding, so a chunked body is decoded on the fly and delimited by closing the connection
 * (the body streams; nothing is buffered). Interim {@code 1xx} responses are dropped for HTTP/1.0.
 *
 * <p>Whenever a response ends the connection (the client or the server said {@code close}, or the
 * body is delimited by the close), {@code endConnection} runs while the response is written, so
 * Helidon stops after this exchange and closes the socket; anything written after such a response
 * is dropped. It follows each response's framing ({@code Content-Length}, chunks, {@code HEAD},
 * 204/304) to find where the next one starts.
 *
 * <p>Thread-safe: writes are serialized by a lock, so a handler may write from a thread of its own.
 */
final class Http10Responses implements DataWriter {
  private enum State {
    HEAD,
    LENGTH,
    CHUNK_SIZE,
    CHUNK_DATA,
    CHUNK_DATA_END,
    TRAILERS,
    UNTIL_CLOSE,
    DISCARD
  }

  private static final byte[] NO_BYTES = new byte[0];
  private static final int MAX_HEAD = 1 << 20;

  private final DataWriter delegate;
  private final Queue<Http10Exchange> exchanges;
  private final Runnable endConnection;
  private final ReentrantLock lock = new ReentrantLock();

  // guarded by lock
  private State state = State.HEAD;
  private byte[] head = new byte[512];
  private int headLength;
  private final StringBuilder line = new StringBuilder(); // a chunk-size or trailer line
  private long left; // body bytes (LENGTH) or chunk bytes (CHUNK_DATA, CHUNK_DATA_END) still due
  private boolean rewrite; // this response is to an HTTP/1.0 request
  private boolean closeAfter; // this response ends the connection

  /**
   * @param delegate the connection's writer
   * @param exchanges the requests read so far, in order ({@link Http10Requests} adds them)
   * @param endConnection makes Helidon end the connection after the current exchange
   */
  Http10Responses(DataWriter delegate, Queue<Http10Exchange> exchanges, Runnable endConnection) {
    this.delegate = delegate;
    this.exchanges = exchanges;
    this.endConnection = endConnection;
  }

  @Override
  public void write(BufferData... buffers) {
    lock.lock();
    try {
      BufferData out = rewriteAll(buffers);
      if (out != null) {
        delegate.write(out);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void write(BufferData buffer) {
    lock.lock();
    try {
      byte[] out = rewrite(buffer.readBytes());
      if (out.length > 0) {
        delegate.write(BufferData.create(out));
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void writeNow(BufferData... buffers) {
    lock.lock();
    try {
      BufferData out = rewriteAll(buffers);
      if (out != null) {
        delegate.writeNow(out);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void writeNow(BufferData buffer) {
    lock.lock();
    try {
      byte[] out = rewrite(buffer.readBytes());
      if (out.length > 0) {
        delegate.writeNow(BufferData.create(out));
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void flush() {
    delegate.flush();
  }

  @Override
  public void close() {
    delegate.close();
  }

  private BufferData rewriteAll(BufferData[] buffers) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (BufferData b : buffers) {
      all.writeBytes(rewrite(b.readBytes()));
    }
    return all.size() == 0 ? null : BufferData.create(all.toByteArray());
  }

  /** {@return what {@code in} becomes on the wire} Call with the lock held. */
  byte[] rewrite(byte[] in) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + 32);
    int i = 0;
    while (i < in.length) {
      switch (state) {
        case DISCARD -> i = in.length;
        case UNTIL_CLOSE -> {
          out.write(in, i, in.length - i);
          i = in.length;
        }
        case LENGTH -> {
          int n = (int) Math.min(left, in.length - i);
          out.write(in, i, n);
          i += n;
          left -= n;
          if (left == 0) {
            responseDone();
          }
        }
        case HEAD -> i = head(in, i, out);
        case CHUNK_SIZE, TRAILERS -> {
          byte b = in[i++];
          if (!rewrite) {
            out.write(b);
          }
          if (b == '\n') {
            endOfLine();
          } else if (b != '\r') {
            line.append((char) (b & 0xff));
          }
        }
        case CHUNK_DATA -> {
          int n = (int) Math.min(left, in.length - i);
          out.write(in, i, n);
          i += n;
          left -= n;
          if (left == 0) {
            left = 2;
            state = State.CHUNK_DATA_END;
          }
        }
        case CHUNK_DATA_END -> { // the CRLF after a chunk's data
          if (!rewrite) {
            out.write(in[i]);
          }
          i++;
          if (--left == 0) {
            state = State.CHUNK_SIZE;
          }
        }
      }
    }
    return out.size() == 0 ? NO_BYTES : out.toByteArray();
  }

  private void endOfLine() {
    String text = line.toString().trim();
    line.setLength(0);
    if (state == State.TRAILERS) {
      if (text.isEmpty()) {
        responseDone();
      }
      return;
    }
    int semicolon = text.indexOf(';');
    String hex = semicolon < 0 ? text : text.substring(0, semicolon).trim();
    long size;
    try {
      size = Long.parseLong(hex, 16);
    } catch (NumberFormatException e) {
      state = State.UNTIL_CLOSE; // not a chunk we can follow: the rest passes, then the close
      closeAfter = true;
      endConnection.run();
      return;
    }
    if (size == 0) {
      state = State.TRAILERS;
    } else {
      left = size;
      state = State.CHUNK_DATA;
    }
  }

  /** Collects a response head from {@code in[i..]}; {@return the index after what it took} */
  private int head(byte[] in, int i, ByteArrayOutputStream out) {
    int before = headLength;
    int take = in.length - i;
    if (headLength + take > head.length) {
      head = Arrays.copyOf(head, Math.max(head.length * 2, headLength + take));
    }
    System.arraycopy(in, i, head, headLength, take);
    headLength += take;
    int end = -1;
    for (int k = Math.max(0, before - 3); k + 3 < headLength; k++) {
      if (head[k] == '\r' && head[k + 1] == '\n' && head[k + 2] == '\r' && head[k + 3] == '\n') {
        end = k + 4;
        break;
      }
    }
    if (end < 0) {
      if (headLength > MAX_HEAD) { // not a head we understand: pass what follows unchanged
        out.write(head, 0, headLength);
        headLength = 0;
        state = State.UNTIL_CLOSE;
      }
      return in.length;
    }
    String text = new String(head, 0, end, StandardCharsets.ISO_8859_1);
    headLength = 0;
    out.writeBytes(responseHead(text));
    return i + (end - before);
  }

  /** {@return the head as written; sets the state for the body} */
  private byte[] responseHead(String text) {
    int eol = text.indexOf("\r\n");
    String statusLine = text.substring(0, eol);
    int code;
    try {
      code = Integer.parseInt(statusLine.substring(9, 12));
    } catch (RuntimeException e) {
      state = State.UNTIL_CLOSE;
      return text.getBytes(StandardCharsets.ISO_8859_1);
    }
    Http10Exchange exchange = code < 200 ? exchanges.peek() : exchanges.poll();
    if (exchange == null) {
      exchange = Http10Exchange.UNRECORDED;
    }
    if (code < 200) {
      if (code == 101) { // a protocol switch: no longer HTTP
        state = State.UNTIL_CLOSE;
      }
      return exchange.http10() ? NO_BYTES : text.getBytes(StandardCharsets.ISO_8859_1);
    }
    rewrite = exchange.http10();
    long contentLength = -1;
    boolean chunked = false;
    boolean closeSaid = false;
    StringBuilder headers = new StringBuilder(text.length() + 32);
    int pos = eol + 2;
    while (pos < text.length() - 2) {
      int next = text.indexOf("\r\n", pos);
      String headerLine = text.substring(pos, next);
      pos = next + 2;
      int colon = headerLine.indexOf(':');
      String name = colon < 0 ? "" : headerLine.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = colon < 0 ? "" : headerLine.substring(colon + 1).trim();
      switch (name) {
        case "content-length" -> {
          try {
            contentLength = Long.parseLong(value);
          } catch (NumberFormatException e) {
            contentLength = -1;
          }
        }
        case "transfer-encoding" -> {
          chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
          if (rewrite) {
            continue; // HTTP/1.0 has no transfer codings
          }
        }
        case "connection" -> {
          for (String token : value.toLowerCase(Locale.ROOT).split(",")) {
            closeSaid |= token.trim().equals("close");
          }
          if (rewrite) {
            continue; // written below
          }
        }
        case "keep-alive" -> {
          if (rewrite) {
            continue;
          }
        }
        default -> {}
      }
      headers.append(headerLine).append("\r\n");
    }
    boolean noBody = exchange.head() || code == 204 || code == 304;
    closeAfter = !exchange.keepAlive() || closeSaid;
    if (rewrite && !noBody && (chunked || contentLength < 0)) {
      closeAfter = true; // the body ends with the connection
    }
    if (rewrite && exchange.head()) {
      // Helidon writes a body after a HEAD response's head if the handler sent one; closing the
      // connection after the head drops it, whatever the handler did
      closeAfter = true;
    }
    boolean rewriting = rewrite;
    boolean closing = closeAfter;
    if (closing) {
      endConnection.run();
    }
    if (noBody) {
      state = State.HEAD;
      responseDone();
    } else if (chunked) {
      state = State.CHUNK_SIZE;
    } else if (contentLength >= 0) {
      left = contentLength;
      state = State.LENGTH;
      if (left == 0) {
        responseDone();
      }
    } else {
      state = State.UNTIL_CLOSE;
    }
    if (!rewriting) {
      return text.getBytes(StandardCharsets.ISO_8859_1);
    }
    String written =
        "HTTP/1.0"
            + statusLine.substring(8)
            + "\r\n"
            + headers
            + (closing ? "Connection: close\r\n" : "Connection: keep-alive\r\n")
            + "\r\n";
    return written.getBytes(StandardCharsets.ISO_8859_1);
  }

  private void responseDone() {
    state = closeAfter ? State.DISCARD : State.HEAD;
    rewrite = false;
    closeAfter = false;
  }
}
