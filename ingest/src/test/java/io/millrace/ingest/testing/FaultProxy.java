package io.millrace.ingest.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fault-injecting TCP proxy in front of an S3 endpoint. Faults apply per connection, decided when
 * the first request on it arrives; changing the fault closes every open connection, so the client
 * meets the new behaviour on its next attempt.
 *
 * <ul>
 *   <li>{@code NONE}: bytes relayed both ways.
 *   <li>{@code SLOW_DOWN}: the request is read, then {@code 503 SlowDown} (S3's XML error).
 *   <li>{@code INTERNAL_ERROR}: the request is read, then {@code 500 InternalError}.
 *   <li>{@code RESET}: the request head is read, then the connection is reset (RST).
 *   <li>{@code STALL}: the request is read and never answered.
 *   <li>{@code REFUSE}: nothing listens: the port is closed until the fault changes, so connections
 *       are refused.
 * </ul>
 *
 * <p>Besides the faults, {@link #latency} adds a delay to every chunk the store sends back on a
 * relayed connection (about one per response), effective at once on open connections: a store that
 * became slow, without errors.
 */
public final class FaultProxy implements AutoCloseable {
  public enum Fault {
    NONE,
    SLOW_DOWN,
    INTERNAL_ERROR,
    RESET,
    STALL,
    REFUSE
  }

  private volatile ServerSocket server;
  private final int port;
  private final int targetPort;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile Thread acceptor;
  private volatile boolean closed;
  private volatile Fault fault = Fault.NONE;
  private volatile long latencyNanos;
  public final AtomicInteger injected = new AtomicInteger();
  public final AtomicInteger relayed = new AtomicInteger();

  public FaultProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
    port = server.getLocalPort();
    ServerSocket s = server;
    acceptor = Thread.ofVirtual().name("fault-proxy-accept").start(() -> acceptLoop(s));
  }

  // called only from the test thread (fault, close)
  private void listen(boolean on) throws IOException {
    if (on && server.isClosed() && !closed) {
      ServerSocket s = new ServerSocket();
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
      server = s;
      acceptor = Thread.ofVirtual().name("fault-proxy-accept").start(() -> acceptLoop(s));
    } else if (!on && !server.isClosed()) {
      server.close();
      try {
        acceptor.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + port);
  }

  /** Delays each chunk of the store's answers by {@code d} (zero: none), from now on. */
  public void latency(java.time.Duration d) {
    latencyNanos = d.toNanos();
  }

  public void fault(Fault f) {
    fault = f;
    for (Socket s : open) {
      closeQuietly(s);
    }
    try {
      listen(f != Fault.REFUSE);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    if (f == Fault.REFUSE) {
      injected.incrementAndGet();
    }
  }

  private void acceptLoop(ServerSocket server) {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return;
      }
      open.add(client);
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  handle(client);
                } catch (IOException e) {
                  // the client or the fault ended it
                } finally {
                  open.remove(client);
                  closeQuietly(client);
                }
              });
    }
  }

  private void handle(Socket client) throws IOException {
    Fault f = fault;
    if (f == Fault.NONE || f == Fault.REFUSE) {
      relay(client);
      return;
    }
    InputStream in = client.getInputStream();
    String head = readHead(in);
    if (head == null) {
      return;
    }
    injected.incrementAndGet();
    switch (f) {
      case RESET -> {
        client.setSoLinger(true, 0);
        client.close();
      }
      case STALL -> {
        while (fault == Fault.STALL && !client.isClosed()) {
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          }
        }
      }
      case SLOW_DOWN ->
          answer(
              client, in, head, 503, "Slow Down", "SlowDown", "Please reduce your request rate.");
      case INTERNAL_ERROR ->
          answer(
              client,
              in,
              head,
              500,
              "Internal Server Error",
              "InternalError",
              "We encountered an internal error. Please try again.");
      default -> {}
    }
  }

  private void answer(
      Socket client,
      InputStream in,
      String head,
      int status,
      String reason,
      String code,
      String message)
      throws IOException {
    String lower = head.toLowerCase(Locale.ROOT);
    if (!lower.contains("expect: 100-continue")) {
      skipBody(in, lower);
    }
    String xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
            + code
            + "</Code><Message>"
            + message
            + "</Message><RequestId>fault</RequestId></Error>";
    byte[] body = xml.getBytes(StandardCharsets.UTF_8);
    String resp =
        "HTTP/1.1 "
            + status
            + " "
            + reason
            + "\r\nContent-Type: application/xml\r\nContent-Length: "
            + body.length
            + "\r\nConnection: close\r\n\r\n";
    OutputStream out = client.getOutputStream();
    out.write(resp.getBytes(StandardCharsets.ISO_8859_1));
    out.write(body);
    out.flush();
  }

  private static void skipBody(InputStream in, String lowerHead) throws IOException {
    for (String line : lowerHead.split("\r\n")) {
      if (line.startsWith("content-length:")) {
        long n = Long.parseLong(line.substring(15).trim());
        in.skipNBytes(n);
        return;
      }
    }
    if (lowerHead.contains("transfer-encoding: chunked")) {
      while (true) {
        String size = readLine(in);
        int n = Integer.parseInt(size.split(";")[0].trim(), 16);
        if (n == 0) {
          while (!readLine(in).isEmpty()) {
            // trailers
          }
          return;
        }
        in.skipNBytes(n);
        readLine(in);
      }
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int b;
    while ((b = in.read()) >= 0 && b != '\n') {
      if (b != '\r') {
        sb.append((char) b);
      }
    }
    if (b < 0) {
      throw new IOException("eof");
    }
    return sb.toString();
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      matched =
          (b == '\r' && (matched == 0 || matched == 2))
                  || (b == '\n' && (matched == 1 || matched == 3))
              ? matched + 1
              : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  private void relay(Socket client) throws IOException {
    try (Socket upstream = new Socket()) {
      upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 2000);
      open.add(upstream);
      relayed.incrementAndGet();
      try {
        Thread back = Thread.ofVirtual().start(() -> pump(upstream, client, true));
        pump(client, upstream, false);
        try {
          back.join(30_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      } finally {
        open.remove(upstream);
      }
    }
  }

  private void pump(Socket from, Socket to, boolean answers) {
    byte[] buf = new byte[16 * 1024];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buf)) >= 0) {
        long delay = answers ? latencyNanos : 0;
        if (delay > 0) {
          try {
            Thread.sleep(java.time.Duration.ofNanos(delay));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
          }
        }
        out.write(buf, 0, n);
        out.flush();
      }
      to.shutdownOutput();
    } catch (IOException e) {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing anyway
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    listen(false);
    for (Socket s : open) {
      closeQuietly(s);
    }
  }
}
