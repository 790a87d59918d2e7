package io.millrace.ingest.testing;

import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real browser for tests: Debian's {@code /usr/bin/chromium}, driven by {@code
 * ingest/browser/driver.mjs} (playwright-core, from {@code ingest/browser/node_modules}) in a node
 * child process, one JSON command per line. Every command waits for its answer at most a bounded
 * time; the child is killed on {@link #close()}.
 *
 * <p>Missing pieces fail the test with what to install ({@code .ci/run} installs them): a browser
 * test that skips itself would hide a page nobody has looked at.
 */
public final class Browser implements AutoCloseable {
  public static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Duration COMMAND = Duration.ofSeconds(60);
  private static final JsonFactory JSON = new JsonFactory();

  private final Process node;
  private final OutputStream in;
  private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
  private final Path stderr;

  /** A command the page could not carry out (an exception in the page, a timeout). */
  public static final class PageException extends RuntimeException {
    PageException(String message) {
      super(message);
    }
  }

  private Browser(Process node, Path stderr) {
    this.node = node;
    this.in = node.getOutputStream();
    this.stderr = stderr;
    Thread.ofVirtual()
        .name("browser-answers")
        .start(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                  answers.add(line);
                }
              } catch (IOException e) {
                // the child ended; a waiting command times out with its stderr
              }
            });
  }

  /**
   * Starts node with the driver and waits until it is ready.
   *
   * @param logDir where the driver's stderr goes
   * @return the browser, with no page open yet
   */
  public static Browser start(Path logDir) throws Exception {
    Path dir = driverDir();
    Path driver = dir.resolve("driver.mjs");
    List<String> missing = new ArrayList<>();
    if (!Files.isExecutable(CHROMIUM)) {
      missing.add(CHROMIUM + " (apt-get install chromium)");
    }
    Path nodeExe = onPath("node");
    if (nodeExe == null) {
      missing.add("node on the PATH (apt-get install nodejs)");
    }
    if (!Files.isRegularFile(dir.resolve("node_modules/playwright-core/package.json"))) {
      missing.add(
          "playwright-core in " + dir.resolve("node_modules") + " (cd " + dir + " && npm ci)");
    }
    if (!missing.isEmpty()) {
      fail(
          "the browser test needs "
              + String.join(", ", missing)
              + "; .ci/run installs them. It does not skip: the status page is tested in a real"
              + " browser or the build fails.");
    }
    Files.createDirectories(logDir);
    Path err = logDir.resolve("browser-driver.err");
    ProcessBuilder pb = new ProcessBuilder(nodeExe.toString(), driver.toString());
    pb.directory(dir.toFile());
    pb.environment().put("CHROMIUM", CHROMIUM.toString());
    pb.redirectError(err.toFile());
    Browser b = new Browser(pb.start(), err);
    b.answer(Duration.ofSeconds(30)); // "driver ready"
    return b;
  }

  /**
   * Starts chromium on a fresh profile and opens {@code url}, closing the page open before.
   *
   * @return the HTTP status of the page
   */
  public int open(String url, int width, int height, double scale, boolean mobile, String scheme) {
    Map<String, Object> cmd = new LinkedHashMap<>();
    cmd.put("op", "open");
    cmd.put("url", url);
    cmd.put("width", width);
    cmd.put("height", height);
    cmd.put("scale", scale);
    cmd.put("mobile", mobile);
    cmd.put("colorScheme", scheme);
    return ((Number) send(cmd)).intValue();
  }

  /**
   * {@return the value of a JavaScript expression in the page (a string, number, boolean, list)}
   */
  public Object eval(String js) {
    return send(Map.of("op", "eval", "js", js));
  }

  /** {@return the text of the element with this id, trimmed} */
  public String text(String id) {
    return String.valueOf(eval("document.getElementById('" + id + "').textContent.trim()"));
  }

  /**
   * Waits until a JavaScript expression is truthy in the page.
   *
   * @throws PageException if it is not within {@code timeout} (with the page's text then)
   */
  public void waitFor(String js, Duration timeout) {
    try {
      send(Map.of("op", "waitFor", "js", js, "timeoutMs", timeout.toMillis()));
    } catch (PageException e) {
      throw new PageException(
          e.getMessage()
              + "\nwaiting for: "
              + js
              + "\npage text:\n"
              + eval("document.body.innerText"));
    }
  }

  /** Saves a screenshot of the whole page as PNG. */
  public void screenshot(Path file) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    send(Map.of("op", "screenshot", "path", file.toAbsolutePath().toString(), "fullPage", true));
  }

  /**
   * {@return console errors and warnings, page errors, failed requests, responses 4xx/5xx and
   * requests to other origins, since the page opened}
   */
  @SuppressWarnings("unchecked")
  public List<String> problems() {
    return (List<String>) send(Map.of("op", "problems"));
  }

  private Object send(Map<String, Object> cmd) {
    try {
      StringWriter w = new StringWriter();
      try (JsonGenerator g = JSON.createGenerator(w)) {
        g.writeStartObject();
        for (Map.Entry<String, Object> e : cmd.entrySet()) {
          g.writeFieldName(e.getKey());
          switch (e.getValue()) {
            case String s -> g.writeString(s);
            case Boolean b -> g.writeBoolean(b);
            case Integer i -> g.writeNumber(i);
            case Long l -> g.writeNumber(l);
            case Double d -> g.writeNumber(d);
            default -> throw new IllegalArgumentException("cannot send " + e.getValue());
          }
        }
        g.writeEndObject();
      }
      in.write((w + "\n").getBytes(StandardCharsets.UTF_8));
      in.flush();
      Map<String, Object> a = answer(COMMAND);
      if (!Boolean.TRUE.equals(a.get("ok"))) {
        throw new PageException(cmd.get("op") + " failed: " + a.get("error"));
      }
      return a.get("value");
    } catch (IOException e) {
      throw new PageException("the browser driver is gone: " + e + "\n" + driverLog());
    }
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> answer(Duration timeout) {
    String line;
    try {
      line = answers.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new PageException("interrupted while waiting for the browser");
    }
    if (line == null) {
      throw new PageException(
          "no answer from the browser driver within "
              + timeout
              + (node.isAlive() ? "" : " (it exited with " + node.exitValue() + ")")
              + "\n"
              + driverLog());
    }
    try (JsonParser p = JSON.createParser(line)) {
      p.nextToken();
      return (Map<String, Object>) read(p);
    } catch (IOException e) {
      throw new PageException("not an answer: " + line);
    }
  }

  private static Object read(JsonParser p) throws IOException {
    JsonToken t = p.currentToken();
    return switch (t) {
      case START_OBJECT -> {
        Map<String, Object> m = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String k = p.currentName();
          p.nextToken();
          m.put(k, read(p));
        }
        yield m;
      }
      case START_ARRAY -> {
        List<Object> l = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          l.add(read(p));
        }
        yield l;
      }
      case VALUE_STRING -> p.getText();
      case VALUE_NUMBER_INT -> p.getLongValue();
      case VALUE_NUMBER_FLOAT -> p.getDoubleValue();
      case VALUE_TRUE, VALUE_FALSE -> p.getBooleanValue();
      default -> null;
    };
  }

  /** {@return the driver's stderr so far} */
  public String driverLog() {
    try {
      return "--- browser driver stderr:\n" + Files.readString(stderr);
    } catch (IOException e) {
      return "(no driver log: " + e + ")";
    }
  }

  /** Quits the driver (closing chromium), killing it if it does not end within 15 s. */
  @Override
  public void close() throws InterruptedException {
    try {
      in.write("{\"op\":\"quit\"}\n".getBytes(StandardCharsets.UTF_8));
      in.close();
    } catch (IOException e) {
      // already gone
    }
    if (!node.waitFor(15, TimeUnit.SECONDS)) {
      node.descendants().forEach(ProcessHandle::destroyForcibly);
      node.destroyForcibly();
      node.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static Path onPath(String exe) {
    for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(d, exe);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** {@return {@code ingest/browser}, found from the working folder up} */
  private static Path driverDir() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isRegularFile(d.resolve("browser/driver.mjs"))) {
        return d.resolve("browser");
      }
      if (Files.isRegularFile(d.resolve("ingest/browser/driver.mjs"))) {
        return d.resolve("ingest/browser");
      }
    }
    throw new IllegalStateException(
        "no ingest/browser/driver.mjs above " + Path.of("").toAbsolutePath());
  }
}
