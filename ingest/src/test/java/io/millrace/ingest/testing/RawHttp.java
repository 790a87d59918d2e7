package io.millrace.ingest.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * An HTTP/1.1 client on a raw socket, so tests can send exactly the bytes they mean (wrong lengths,
 * truncated bodies, huge headers) and read exactly what comes back.
 */
public final class RawHttp {
  private RawHttp() {}

  /** A response: status, headers (lower-case names), body; status -1 if the server sent nothing. */
  public record Response(int status, Map<String, String> headers, byte[] body) {
    public String text() {
      return new String(body, StandardCharsets.UTF_8);
    }

    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    @Override
    public String toString() {
      return status + " " + headers + " " + text();
    }
  }

  public static byte[] request(
      String method, String path, Map<String, String> headers, byte[] body) {
    StringBuilder sb = new StringBuilder();
    sb.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: localhost\r\n");
    boolean hasLength = false;
    for (var e : headers.entrySet()) {
      sb.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
      hasLength |=
          e.getKey().equalsIgnoreCase("content-length")
              || e.getKey().equalsIgnoreCase("transfer-encoding");
    }
    if (!hasLength && body != null) {
      sb.append("Content-Length: ").append(body.length).append("\r\n");
    }
    sb.append("Connection: close\r\n\r\n");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
    if (body != null) {
      out.writeBytes(body);
    }
    return out.toByteArray();
  }

  public static Response post(int port, String contentType, byte[] body, Map<String, String> extra)
      throws IOException {
    Map<String, String> h = new LinkedHashMap<>();
    if (contentType != null) {
      h.put("Content-Type", contentType);
    }
    h.putAll(extra);
    return exchange(port, request("POST", "/v1/payloads", h, body), false);
  }

  public static Response post(int port, String contentType, byte[] body) throws IOException {
    return post(port, contentType, body, Map.of());
  }

  public static Response get(int port, String path) throws IOException {
    return exchange(port, request("GET", path, Map.of(), null), false);
  }

  /**
   * Sends the bytes, optionally half-closes the connection, and reads one response.
   *
   * @param shutdownOutput whether to signal end of input after sending (truncated bodies)
   */
  public static Response exchange(int port, byte[] raw, boolean shutdownOutput) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      s.setSoTimeout(20_000);
      OutputStream out = s.getOutputStream();
      try {
        out.write(raw);
        out.flush();
      } catch (IOException e) {
        // the server may answer and close before reading everything (413): read what it said
      }
      if (shutdownOutput) {
        s.shutdownOutput();
      }
      return read(s.getInputStream());
    }
  }

  public static Response read(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int state = 0;
    try {
      while (state < 4) {
        int b = in.read();
        if (b < 0) {
          if (head.size() == 0) {
            return new Response(-1, Map.of(), new byte[0]);
          }
          throw new IOException("connection closed inside the response head: " + head);
        }
        head.write(b);
        state =
            switch (state) {
              case 0, 2 -> b == '\r' ? state + 1 : 0;
              case 1, 3 -> b == '\n' ? state + 1 : (b == '\r' ? 1 : 0);
              default -> 0;
            };
      }
    } catch (SocketTimeoutException e) {
      throw new IOException("no response within the timeout", e);
    } catch (java.net.SocketException e) {
      if (head.size() == 0) {
        return new Response(-1, Map.of(), new byte[0]); // reset before any response
      }
      throw e;
    }
    String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int c = lines[i].indexOf(':');
      if (c > 0) {
        headers.put(
            lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT),
            lines[i].substring(c + 1).trim());
      }
    }
    byte[] body;
    String len = headers.get("content-length");
    if (len != null) {
      body = in.readNBytes(Integer.parseInt(len));
    } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      while (true) {
        String sizeLine = readLine(in);
        int size = Integer.parseInt(sizeLine.split(";")[0].trim(), 16);
        if (size == 0) {
          readLine(in);
          break;
        }
        b.writeBytes(in.readNBytes(size));
        readLine(in);
      }
      body = b.toByteArray();
    } else {
      body = in.readAllBytes();
    }
    return new Response(status, headers, body);
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int b;
    while ((b = in.read()) >= 0 && b != '\n') {
      if (b != '\r') {
        sb.append((char) b);
      }
    }
    return sb.toString();
  }
}
