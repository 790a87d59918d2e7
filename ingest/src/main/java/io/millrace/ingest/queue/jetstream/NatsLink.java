package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection to NATS and its keeper. The first connect is tried at once and then by the keeper
 * thread until it succeeds (a node may start before its broker); afterwards the client reconnects
 * by itself for ever. Whenever the state is not ready and the connection is up, the keeper
 * provisions the streams and the consumer again ({@link Topology}). Each round it also runs a tick
 * (the deliveries' progress signals).
 *
 * <p>The state is one immutable {@link LinkState} in an atomic reference. Other threads report a
 * problem with {@link #broken}, which applies only to the state they saw, so a late report about an
 * old subscription cannot undo a newer provisioning.
 *
 * <p>Nothing is buffered blindly while disconnected ({@code reconnectBufferSize(0)}): admission
 * answers 503 instead, and an ack that cannot be sent means a redelivery (a duplicate), never a
 * loss.
 */
final class NatsLink {
  private static final Logger LOG = LoggerFactory.getLogger(NatsLink.class);

  private final Config.Nats cfg;
  private final Topology topology;
  private final Options options;
  private final AtomicReference<LinkState> state = new AtomicReference<>(LinkState.connecting());
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile Thread keeper;

  NatsLink(Config.Nats cfg, String connectionName, Topology topology) {
    this.cfg = cfg;
    this.topology = topology;
    this.options =
        Options.builder()
            .servers(cfg.servers().toArray(String[]::new))
            .connectionName(connectionName)
            .maxReconnects(-1)
            .reconnectWait(Duration.ofMillis(500))
            .connectionTimeout(Duration.ofSeconds(2))
            .pingInterval(Duration.ofSeconds(5))
            .reconnectBufferSize(0)
            .connectionListener(NatsLink::connectionEvent)
            .errorListener(new QuietErrors())
            .build();
  }

  private static void connectionEvent(Connection conn, ConnectionListener.Events type) {
    switch (type) {
      case DISCONNECTED -> LOG.warn("NATS disconnected; admission answers 503 until it is back");
      case RECONNECTED -> LOG.info("NATS reconnected to {}", conn.getConnectedUrl());
      case CONNECTED -> LOG.info("NATS connected to {}", conn.getConnectedUrl());
      default -> LOG.debug("NATS connection event {}", type);
    }
  }

  /**
   * Logs the client's asynchronous errors at debug level only (the connection events above say what
   * matters).
   */
  private static final class QuietErrors implements ErrorListener {
    @Override
    public void errorOccurred(Connection conn, String error) {
      LOG.debug("NATS error: {}", error);
    }

    @Override
    public void exceptionOccurred(Connection conn, Exception exp) {
      LOG.debug("NATS exception: {}", exp.toString());
    }
  }

  /**
   * Tries once to connect and provision (so a node that can reach NATS is ready when it says so),
   * then starts the keeper.
   *
   * @param tick run by the keeper every round (at most every 200 ms), never concurrently
   * @throws InterruptedException if interrupted while connecting
   */
  void start(Runnable tick) throws InterruptedException {
    connectOnce();
    keeper = Thread.ofVirtual().name("millrace-nats-keeper").start(() -> keep(tick));
  }

  /** {@return the state now} */
  LinkState state() {
    return state.get();
  }

  /**
   * Reports a problem found while using {@code seen}: the state becomes not ready (the keeper
   * provisions again), unless it has changed since {@code seen} was read.
   */
  void broken(LinkState seen, String problem) {
    if (state.compareAndSet(seen, seen.broken(problem)) && !problem.equals(seen.problem())) {
      LOG.warn("{}; setting up the stream and consumer again", problem);
    }
  }

  /** {@return why the queue cannot serve right now (not connected, not provisioned), or null} */
  String notReadyReason() {
    return notReadyReason(state.get());
  }

  /** {@return why state {@code s} cannot serve (not connected, not provisioned), or null} */
  static String notReadyReason(LinkState s) {
    Connection c = s.connection();
    if (c == null) {
      return s.problem();
    }
    Connection.Status status = c.getStatus();
    if (status != Connection.Status.CONNECTED) {
      return "NATS unreachable (" + status.name().toLowerCase(Locale.ROOT) + ")";
    }
    return s.problem();
  }

  /** {@return whether the connection is up and the state ready: {@code s} can be used} */
  static boolean usable(LinkState s) {
    return s.ready() && s.connection().getStatus() == Connection.Status.CONNECTED;
  }

  private void keep(Runnable tick) {
    while (!closed.get()) {
      try {
        connectOnce();
      } catch (InterruptedException e) {
        return;
      }
      tick.run();
      try {
        Thread.sleep(state.get().ready() ? 200 : 500);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /**
   * Tries once to connect (each server once, up to the connection timeout) if not connected yet,
   * and to provision if not ready.
   */
  private void connectOnce() throws InterruptedException {
    LinkState s = state.get();
    if (s.connection() == null) {
      try {
        Connection c = Nats.connect(options);
        if (closed.get()) {
          c.close(); // closed while connecting: nothing may outlive the queue
          return;
        }
        s = state.updateAndGet(x -> x.connected(c));
      } catch (IOException e) {
        String p = "NATS unreachable (" + e.getMessage() + ")";
        if (!p.equals(s.problem())) {
          LOG.warn("{}; retrying", p);
        }
        state.set(s.broken(p)); // only the keeper writes before the first connect
        return;
      }
    }
    if (!s.ready() && s.connection().getStatus() == Connection.Status.CONNECTED) {
      provision(s);
    }
  }

  private void provision(LinkState s) {
    try {
      Topology.Provisioned p = topology.ensure(s.connection(), s.sub());
      state.set(s.provisioned(p.js(), p.sub())); // the keeper alone makes a state ready
      LOG.info(
          "JetStream ready: stream {} ({} replica(s)), subject {}{}",
          cfg.stream(),
          cfg.replicas(),
          cfg.subject(),
          p.sub() != null ? ", consumer " + cfg.consumer() : "");
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      String p = "JetStream set-up failed: " + e.getMessage();
      if (!p.equals(s.problem())) {
        LOG.warn("{} (retrying)", p);
      }
      state.compareAndSet(s, s.broken(p));
    }
  }

  /** {@return whether the keeper has ended and the connection is closed (or never opened)} */
  boolean stopped() {
    Thread k = keeper;
    Connection c = state.get().connection();
    return (k == null || !k.isAlive()) && (c == null || c.getStatus() == Connection.Status.CLOSED);
  }

  /**
   * Stops the keeper, flushes what is buffered (acknowledgements) and closes the connection. Keeps
   * waiting after an interrupt, then sets the flag again.
   */
  void close() {
    closed.set(true);
    boolean interrupted = false;
    Thread k = keeper;
    try {
      if (k != null) {
        k.interrupt();
        k.join(Duration.ofSeconds(5));
      }
    } catch (InterruptedException e) {
      interrupted = true;
    }
    Connection c = state.get().connection(); // read after the keeper ended: it sets it
    try {
      if (c != null && c.getStatus() == Connection.Status.CONNECTED) {
        c.flush(Duration.ofSeconds(2));
      }
    } catch (InterruptedException e) {
      interrupted = true;
    } catch (TimeoutException | RuntimeException e) {
      LOG.warn("flushing NATS at shutdown: {}", e.toString());
    }
    try {
      if (c != null) {
        c.close();
      }
    } catch (InterruptedException e) {
      interrupted = true;
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
