package io.millrace.ingest.http;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.Bytes;
import io.helidon.common.buffers.DataReader;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionSelector;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.webserver.spi.ServerConnectionSelector;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The listener's only connection selector: HTTP/1.1 as Helidon serves it, and HTTP/1.0, which
 * Helidon 4 rejects (helidon-io/helidon#9604), translated to and from HTTP/1.1 on the fly.
 *
 * <p>A connection whose first request line ends in {@code HTTP/1.0} gets Helidon's HTTP/1.1
 * connection over a reader and a writer that translate ({@link Http10Requests}, {@link
 * Http10Responses}); any other connection gets Helidon's HTTP/1.1 connection as it is. Either runs
 * in an {@link Http1Session}, so that a response with {@code Connection: close} closes the socket.
 * The first line is looked at once per connection; requests on an HTTP/1.1 connection pay nothing
 * more. It is the selector for ALPN's {@code http/1.1} and {@code http/1.0} too, and the client's
 * first line decides there as well, so HTTP/1.0 works over TLS with or without ALPN.
 *
 * <p>Immutable; {@link #connection} runs on the new connection's thread.
 */
final class Http1Selector implements ServerConnectionSelector {
  private static final byte[] HTTP_1_0_EOL = " HTTP/1.0\r".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] HTTP_1_1_EOL = " HTTP/1.1\r".getBytes(StandardCharsets.US_ASCII);

  private final Http1ConnectionSelector http11;
  private final int maxPrologue;
  private final int maxHead;

  /**
   * @param config Helidon's HTTP/1 settings (prologue and header limits), for both versions
   */
  Http1Selector(Http1Config config) {
    this.http11 = Http1ConnectionSelector.builder().config(config).build();
    this.maxPrologue = config.maxPrologueLength();
    this.maxHead = config.maxPrologueLength() + config.maxHeadersSize() + 4;
  }

  @Override
  public int bytesToIdentifyConnection() {
    return 0;
  }

  @Override
  public Support supports(BufferData data) {
    int lf = data.indexOf(Bytes.LF_BYTE);
    if (lf < 0) {
      return data.available() <= maxPrologue ? Support.UNKNOWN : Support.UNSUPPORTED;
    }
    String line = data.readString(lf + 1, StandardCharsets.US_ASCII);
    return line.endsWith(" HTTP/1.1\r\n") || line.endsWith(" HTTP/1.0\r\n")
        ? Support.SUPPORTED
        : Support.UNSUPPORTED;
  }

  @Override
  public Set<String> supportedApplicationProtocols() {
    // "http/1.0" too: without it a client offering only that (curl --http1.0) fails the handshake,
    // as Helidon answers an ALPN offer it cannot take with no_application_protocol
    return Set.of("http/1.1", "http/1.0");
  }

  @Override
  public ServerConnection connection(ConnectionContext ctx) {
    Http1Session session = new Http1Session();
    switch (firstLine(ctx.dataReader())) {
      case HTTP_1_1, TOO_LONG -> session.connection(http11.connection(ctx)); // 414 if too long
      case HTTP_1_0 -> {
        ConcurrentLinkedQueue<Http10Exchange> exchanges = new ConcurrentLinkedQueue<>();
        DataReader reader =
            DataReader.create(
                new Http10Requests(ctx.dataReader(), exchanges, hostOf(ctx), maxHead));
        Http10Responses writer =
            new Http10Responses(ctx.dataWriter(), exchanges, session::endAfterThisExchange);
        session.connection(http11.connection(new Http10Context(ctx, reader, writer)));
      }
      case OTHER -> // as Helidon does when no selector knows the protocol
          throw new CloseConnectionException("No suitable connection provider");
    }
    return session;
  }

  /** What a connection's first line says. */
  private enum FirstLine {
    HTTP_1_0,
    HTTP_1_1,
    TOO_LONG,
    OTHER
  }

  /**
   * {@return what the first line is}; reads until the first LF or {@link #maxPrologue} bytes,
   * without consuming anything
   */
  private FirstLine firstLine(DataReader reader) {
    try {
      reader.ensureAvailable();
      int n = reader.available();
      while (true) {
        BufferData b = reader.getBuffer(n);
        int lf = b.indexOf(Bytes.LF_BYTE);
        if (lf >= 0) {
          if (lf < HTTP_1_0_EOL.length) {
            return FirstLine.OTHER;
          }
          b.skip(lf - HTTP_1_0_EOL.length);
          byte[] tail = new byte[HTTP_1_0_EOL.length];
          b.read(tail);
          return Arrays.equals(tail, HTTP_1_0_EOL)
              ? FirstLine.HTTP_1_0
              : Arrays.equals(tail, HTTP_1_1_EOL) ? FirstLine.HTTP_1_1 : FirstLine.OTHER;
        }
        if (n > maxPrologue) {
          return FirstLine.TOO_LONG;
        }
        reader.getBuffer(n + 1); // blocks for more
        n = reader.available();
      }
    } catch (DataReader.InsufficientDataAvailableException e) {
      throw new CloseConnectionException("No data available", e);
    }
  }

  /** {@return the Host for an HTTP/1.0 request without one: the local address and port} */
  private static String hostOf(ConnectionContext ctx) {
    if (ctx.localPeer().address() instanceof InetSocketAddress a && a.getAddress() != null) {
      String ip = a.getAddress().getHostAddress();
      int zone = ip.indexOf('%');
      if (zone >= 0) {
        ip = ip.substring(0, zone);
      }
      return (a.getAddress() instanceof Inet6Address ? "[" + ip + "]" : ip) + ":" + a.getPort();
    }
    return "localhost";
  }
}
