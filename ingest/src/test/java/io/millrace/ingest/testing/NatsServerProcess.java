package io.millrace.ingest.testing;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StreamState;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A private nats-server with JetStream, in a child process: its own free port on 127.0.0.1 and its
 * own store folder, so a test can stop, kill and restart it without touching any other broker on
 * the machine. The binary is {@code $MILLRACE_NATS_SERVER}, else {@code /usr/sbin/nats-server}.
 */
public final class NatsServerProcess implements AutoCloseable {
  private static final Duration START = Duration.ofSeconds(15);
  private static final Duration STOP = Duration.ofSeconds(20);

  private final Path binary;
  private final Path storeDir;
  private final Path logFile;
  private final int port;
  private final List<String> extraArgs;
  private Process process; // read and written by the test thread only
  private Thread hook;
  private int starts;

  private NatsServerProcess(
      Path binary, Path storeDir, Path logFile, int port, List<String> extraArgs) {
    this.binary = binary;
    this.storeDir = storeDir;
    this.logFile = logFile;
    this.port = port;
    this.extraArgs = List.copyOf(extraArgs);
  }

  /**
   * Starts a server on a free port with its store under {@code dir}.
   *
   * @param dir a folder of the test's own (the store goes to {@code dir/store})
   * @return the running server, accepting connections
   * @throws Exception if the binary is missing or the server does not come up
   */
  public static NatsServerProcess start(Path dir) throws Exception {
    Path binary = binary();
    Path store = Files.createDirectories(dir.resolve("store"));
    NatsServerProcess n =
        new NatsServerProcess(binary, store, dir.resolve("nats-server.log"), freePort(), List.of());
    n.launch();
    return n;
  }

  /**
   * Starts a JetStream cluster of {@code size} servers on free ports (client and route ports), each
   * with its store under {@code dir/n<i>}, routes to all the others, and waits until each accepts
   * connections. JetStream needs a moment more to elect its meta leader; clients retry.
   *
   * @param dir a folder of the test's own
   * @param size how many servers (3 for a quorum that survives one loss)
   * @return the servers, all running
   * @throws Exception if one does not come up
   */
  public static List<NatsServerProcess> startCluster(Path dir, int size) throws Exception {
    Path binary = binary();
    List<Integer> routes = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      routes.add(freePort());
    }
    String all = String.join(",", routes.stream().map(r -> "nats://127.0.0.1:" + r).toList());
    List<NatsServerProcess> out = new ArrayList<>();
    try {
      for (int i = 0; i < size; i++) {
        Path d = Files.createDirectories(dir.resolve("n" + i));
        NatsServerProcess n =
            new NatsServerProcess(
                binary,
                Files.createDirectories(d.resolve("store")),
                d.resolve("nats-server.log"),
                freePort(),
                List.of(
                    "--name",
                    "n" + i,
                    "--cluster_name",
                    "millrace",
                    "--cluster",
                    "nats://127.0.0.1:" + routes.get(i),
                    "--routes",
                    all));
        n.launch();
        out.add(n);
      }
    } catch (Exception | Error e) {
      for (NatsServerProcess n : out) {
        n.close();
      }
      throw e;
    }
    return out;
  }

  private static Path binary() {
    String configured = System.getenv("MILLRACE_NATS_SERVER");
    Path binary =
        Path.of(configured != null && !configured.isBlank() ? configured : "/usr/sbin/nats-server");
    if (!Files.isExecutable(binary)) {
      throw new AssertionError(
          "these tests need nats-server (with JetStream) but "
              + binary
              + " is not an executable file; install it (Debian: apt-get install nats-server) or"
              + " set MILLRACE_NATS_SERVER to its path");
    }
    return binary;
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }

  private void launch() throws Exception {
    starts++;
    List<String> cmd =
        new ArrayList<>(
            List.of(
                binary.toString(),
                "-a",
                "127.0.0.1",
                "-p",
                Integer.toString(port),
                "-js",
                "-sd",
                storeDir.toString()));
    cmd.addAll(extraArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    Process p = pb.start();
    process = p;
    hook = new Thread(p::destroyForcibly, "nats-server-reaper");
    Runtime.getRuntime().addShutdownHook(hook);
    long deadline = System.nanoTime() + START.toNanos();
    while (true) {
      if (!p.isAlive()) {
        throw new AssertionError(
            "nats-server exited with "
                + p.exitValue()
                + " at start "
                + starts
                + "; log:\n"
                + log());
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new AssertionError(
              "nats-server did not accept connections on "
                  + port
                  + " within "
                  + START
                  + "; log:\n"
                  + log());
        }
        Thread.sleep(20);
      }
    }
  }

  /** {@return the client URL, nats://127.0.0.1:port} */
  public String url() {
    return "nats://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** {@return what the server logged so far} */
  public String log() {
    try {
      return Files.exists(logFile) ? Files.readString(logFile) : "(no log)";
    } catch (IOException e) {
      return "(log unreadable: " + e + ")";
    }
  }

  /** Stops the server with SIGTERM and waits until it has exited. */
  public void stop() throws InterruptedException {
    end(false);
  }

  /** Freezes the server (SIGSTOP): its connections stay open and nothing is answered. */
  public void pause() throws Exception {
    signal("-STOP");
  }

  /** Lets a {@linkplain #pause paused} server go on (SIGCONT). */
  public void resume() throws Exception {
    signal("-CONT");
  }

  private void signal(String sig) throws Exception {
    Process k = new ProcessBuilder("kill", sig, Long.toString(process.pid())).inheritIO().start();
    if (!k.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || k.exitValue() != 0) {
      throw new IllegalStateException("kill " + sig + " " + process.pid() + " failed");
    }
  }

  /** Kills the server with SIGKILL and waits until it has exited. */
  public void kill9() throws InterruptedException {
    end(true);
  }

  private void end(boolean force) throws InterruptedException {
    Process p = process;
    if (p == null || !p.isAlive()) {
      return;
    }
    if (force) {
      p.destroyForcibly();
    } else {
      p.destroy();
    }
    if (!p.waitFor(STOP.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      p.waitFor(STOP.toMillis(), TimeUnit.MILLISECONDS);
      if (!force) {
        throw new AssertionError("nats-server did not exit within " + STOP + " of SIGTERM");
      }
    }
    removeHook();
  }

  /**
   * Starts the server again on the same port with the same store, so streams and consumers survive.
   */
  public void restart() throws Exception {
    if (isAlive()) {
      throw new IllegalStateException("nats-server is still running");
    }
    launch();
  }

  private void removeHook() {
    if (hook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is exiting; the hook runs anyway
      }
      hook = null;
    }
  }

  @Override
  public void close() throws InterruptedException {
    Process p = process;
    if (p != null && p.isAlive()) {
      p.destroyForcibly();
      p.waitFor(STOP.toMillis(), TimeUnit.MILLISECONDS);
    }
    removeHook();
  }

  // ---- looking into JetStream from the test ----

  private Connection connect() throws IOException, InterruptedException {
    Options o =
        Options.builder()
            .server(url())
            .connectionTimeout(Duration.ofSeconds(2))
            .noReconnect()
            .build();
    return Nats.connect(o);
  }

  /** What a stream and its consumer hold right now. */
  public record QueueState(long messages, long numPending, long ackPending, long redelivered) {
    public boolean empty() {
      return messages == 0 && numPending == 0 && ackPending == 0;
    }
  }

  /**
   * {@return the state of a stream and one of its consumers}
   *
   * @param stream the stream's name
   * @param consumer a durable consumer's name
   * @throws Exception if the broker cannot tell (down, or no such stream/consumer)
   */
  public QueueState queueState(String stream, String consumer) throws Exception {
    try (Connection c = connect()) {
      JetStreamManagement jsm = c.jetStreamManagement();
      StreamState s = jsm.getStreamInfo(stream).getStreamState();
      ConsumerInfo ci = jsm.getConsumerInfo(stream, consumer);
      return new QueueState(
          s.getMsgCount(), ci.getNumPending(), ci.getNumAckPending(), ci.getRedelivered());
    }
  }

  /**
   * {@return the data of every message a stream holds, or an empty list if there is no such stream}
   *
   * @param stream the stream's name
   * @throws Exception if the broker cannot be asked
   */
  public List<byte[]> messages(String stream) throws Exception {
    List<byte[]> out = new ArrayList<>();
    try (Connection c = connect()) {
      JetStreamManagement jsm = c.jetStreamManagement();
      StreamState s;
      try {
        s = jsm.getStreamInfo(stream).getStreamState();
      } catch (JetStreamApiException e) {
        if (e.getErrorCode() == 404) {
          return out;
        }
        throw e;
      }
      if (s.getMsgCount() == 0) {
        return out;
      }
      for (long seq = s.getFirstSequence(); seq <= s.getLastSequence(); seq++) {
        try {
          MessageInfo m = jsm.getMessage(stream, seq);
          if (m.getData() != null) {
            out.add(m.getData());
          }
        } catch (JetStreamApiException e) {
          if (e.getErrorCode() != 404) {
            throw e; // 404: a deleted sequence (work-queue streams have gaps)
          }
        }
      }
    }
    return out;
  }
}
