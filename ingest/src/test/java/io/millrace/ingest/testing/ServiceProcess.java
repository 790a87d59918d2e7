package io.millrace.ingest.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The service in a child JVM ({@code java -Xmx256m -cp <this classpath> io.millrace.ingest.Main}),
 * configured by environment variables. Stdout and stderr go to files next to each other; the HTTP
 * port is read from the "listening on host:port" line. Closing it kills the child if it still runs.
 */
public final class ServiceProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on [^:\\s]+:(\\d+)");
  public static final Duration START = Duration.ofSeconds(60);

  private final String name;
  private final Process process;
  private final int port;
  private final Path stdout;
  private final Path stderr;
  private final Thread hook;

  private ServiceProcess(
      String name, Process process, int port, Path stdout, Path stderr, Thread hook) {
    this.name = name;
    this.process = process;
    this.port = port;
    this.stdout = stdout;
    this.stderr = stderr;
    this.hook = hook;
  }

  /**
   * Starts a child and waits until it listens.
   *
   * @param name for messages and file names (unique within {@code dir})
   * @param dir where its stdout and stderr files go
   * @param env environment variables on top of this JVM's
   * @return the running child
   * @throws Exception if it does not print its port within {@link #START}
   */
  public static ServiceProcess start(String name, Path dir, Map<String, String> env)
      throws Exception {
    ServiceProcess child = spawn(name, dir, env, -1);
    Process p = child.process;
    long deadline = System.nanoTime() + START.toNanos();
    while (true) {
      Matcher m = LISTENING.matcher(Files.readString(child.stdout));
      if (m.find()) {
        return new ServiceProcess(
            name, p, Integer.parseInt(m.group(1)), child.stdout, child.stderr, child.hook);
      }
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        String why =
            p.isAlive() ? "did not print its port within " + START : "exited with " + p.exitValue();
        throw new AssertionError(
            "service "
                + name
                + " "
                + why
                + "; stdout:\n"
                + Files.readString(child.stdout)
                + "\nstderr:\n"
                + Files.readString(child.stderr));
      }
      Thread.sleep(20);
    }
  }

  /**
   * Starts a child and returns at once, while it is still starting (for tests of the start-up
   * window).
   *
   * @param port the {@code MILLRACE_PORT} it is given (a fixed, free one)
   * @return the child, perhaps not listening yet
   */
  public static ServiceProcess launch(String name, Path dir, Map<String, String> env, int port)
      throws IOException {
    Map<String, String> withPort = new java.util.HashMap<>(env);
    withPort.put("MILLRACE_PORT", Integer.toString(port));
    return spawn(name, dir, withPort, port);
  }

  private static ServiceProcess spawn(String name, Path dir, Map<String, String> env, int port)
      throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Files.createDirectories(dir);
    Path out = dir.resolve(name + ".out");
    Path err = dir.resolve(name + ".err");
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-Xmx256m",
            "-cp",
            System.getProperty("java.class.path"),
            "io.millrace.ingest.Main");
    pb.environment().putAll(env);
    pb.redirectOutput(out.toFile());
    pb.redirectError(err.toFile());
    Process p = pb.start();
    Thread hook = new Thread(p::destroyForcibly, "service-reaper-" + name);
    Runtime.getRuntime().addShutdownHook(hook);
    return new ServiceProcess(name, p, port, out, err, hook);
  }

  public String name() {
    return name;
  }

  public int port() {
    return port;
  }

  public Process process() {
    return process;
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public Path stderrFile() {
    return stderr;
  }

  /** {@return its stderr so far} */
  public String stderr() {
    try {
      return Files.readString(stderr);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** {@return its stdout and stderr so far, for failure messages} */
  public String logs() {
    String out;
    try {
      out = Files.readString(stdout);
    } catch (IOException e) {
      out = "(unreadable: " + e + ")";
    }
    return "--- " + name + " stdout:\n" + out + "--- " + name + " stderr:\n" + stderr();
  }

  /** SIGKILL, then waits until the process is gone. */
  public void kill9() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError(name + " still runs 30 s after SIGKILL");
    }
    removeHook();
  }

  /** Sends SIGTERM and returns at once; see {@link #waitFor(Duration)}. */
  public void sigterm() {
    process.destroy();
  }

  /**
   * Waits for the exit.
   *
   * @param timeout at most this long
   * @return the exit status
   * @throws AssertionError if it still runs after {@code timeout}
   */
  public int waitFor(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(name + " still runs after " + timeout + "\n" + logs());
    }
    removeHook();
    return process.exitValue();
  }

  /**
   * {@return the value of a metric from GET /metrics: the sum over its series, labelled or not}
   *
   * @param metric its full Prometheus name, e.g. millrace_payloads_stored_total
   * @throws AssertionError if /metrics has no such series
   */
  public double metric(String metric) throws IOException {
    Double v = metricOrNull(metric);
    if (v == null) {
      throw new AssertionError(name + ": no metric " + metric + " in /metrics");
    }
    return v;
  }

  /** {@return the metric's value like {@link #metric}, or null if /metrics has no such series} */
  public Double metricOrNull(String metric) throws IOException {
    RawHttp.Response r = RawHttp.get(port, "/metrics");
    if (r.status() != 200) {
      throw new IOException(name + ": GET /metrics answered " + r.status());
    }
    Double sum = null;
    for (String line : r.text().split("\n")) {
      if (line.startsWith(metric + " ") || line.startsWith(metric + "{")) {
        String value = line.substring(line.lastIndexOf(' ') + 1).trim();
        sum = (sum == null ? 0 : sum) + Double.parseDouble(value);
      }
    }
    return sum;
  }

  /** {@return the status GET path answers with, -1 if nothing answered} */
  public int status(String path) {
    try {
      return RawHttp.get(port, path).status();
    } catch (IOException e) {
      return -1;
    }
  }

  private void removeHook() {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException | IllegalArgumentException e) {
      // exiting, or removed already
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
    removeHook();
  }

  @Override
  public String toString() {
    return name + "@" + port + (process.isAlive() ? "" : " (exited)");
  }
}
