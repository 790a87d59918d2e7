package io.millrace.ingest.http;

import io.helidon.common.buffers.DataReader;
import io.helidon.common.buffers.DataWriter;
import io.helidon.common.socket.HelidonSocket;
import io.helidon.common.socket.PeerInfo;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.ListenerContext;
import io.helidon.webserver.ProxyProtocolData;
import io.helidon.webserver.Router;
import java.util.Optional;
import java.util.concurrent.ExecutorService;

/**
 * A connection's context as Helidon's HTTP/1.1 connection sees it when the connection began with
 * HTTP/1.0: the same socket, listener and router, but the reader and writer that translate ({@link
 * Http10Requests}, {@link Http10Responses}). Immutable.
 */
final class Http10Context implements ConnectionContext {
  private final ConnectionContext ctx;
  private final DataReader reader;
  private final DataWriter writer;

  Http10Context(ConnectionContext ctx, DataReader reader, DataWriter writer) {
    this.ctx = ctx;
    this.reader = reader;
    this.writer = writer;
  }

  @Override
  public DataReader dataReader() {
    return reader;
  }

  @Override
  public DataWriter dataWriter() {
    return writer;
  }

  @Override
  public ListenerContext listenerContext() {
    return ctx.listenerContext();
  }

  @Override
  public ExecutorService executor() {
    return ctx.executor();
  }

  @Override
  public Router router() {
    return ctx.router();
  }

  @Override
  public Optional<ProxyProtocolData> proxyProtocolData() {
    return ctx.proxyProtocolData();
  }

  @Override
  public HelidonSocket serverSocket() {
    return ctx.serverSocket();
  }

  @Override
  public PeerInfo remotePeer() {
    return ctx.remotePeer();
  }

  @Override
  public PeerInfo localPeer() {
    return ctx.localPeer();
  }

  @Override
  public boolean isSecure() {
    return ctx.isSecure();
  }

  @Override
  public String socketId() {
    return ctx.socketId();
  }

  @Override
  public String childSocketId() {
    return ctx.childSocketId();
  }
}
