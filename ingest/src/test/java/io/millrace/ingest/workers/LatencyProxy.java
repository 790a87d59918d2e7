package io.millrace.ingest.workers;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A TCP relay on 127.0.0.1 that holds back the start of every HTTP response by a settable delay, as
 * a store whose latency changes would. Requests on a keep-alive connection are answered in order,
 * so "the first bytes from upstream after bytes from the client" is a response's start.
 */
final class LatencyProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile long delayMillis;

  LatencyProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().name("latency-proxy-accept").start(this::accept);
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  void delayMillis(long millis) {
    this.delayMillis = millis;
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Thread.ofVirtual().start(() -> relay(client));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void relay(Socket client) {
    open.add(client);
    try (client;
        Socket upstream = new Socket()) {
      upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 2000);
      open.add(upstream);
      AtomicBoolean awaitingResponse = new AtomicBoolean();
      Thread back = Thread.ofVirtual().start(() -> pump(upstream, client, awaitingResponse, true));
      pump(client, upstream, awaitingResponse, false);
      back.join(30_000);
      open.remove(upstream);
    } catch (IOException | InterruptedException e) {
      // the client, the store or close() ended it
    } finally {
      open.remove(client);
    }
  }

  private void pump(Socket from, Socket to, AtomicBoolean awaitingResponse, boolean response) {
    byte[] buf = new byte[16 * 1024];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buf)) >= 0) {
        if (!response) {
          awaitingResponse.set(true);
        } else if (awaitingResponse.getAndSet(false) && delayMillis > 0) {
          Thread.sleep(delayMillis);
        }
        out.write(buf, 0, n);
        out.flush();
      }
      to.shutdownOutput();
    } catch (IOException | InterruptedException e) {
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
    server.close();
    for (Socket s : open) {
      closeQuietly(s);
    }
  }
}
