package io.millrace.ingest.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.History;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.metrics.RecentErrors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The live status page: {@code GET /} (HTML, with {@code /status.css} and {@code /status.js}, all
 * served from the classpath; the page loads nothing from anywhere else, which its {@code
 * Content-Security-Policy} enforces) and {@code GET /v1/status}, the JSON it polls every second.
 *
 * <p>{@code /v1/status} answers the numbers {@code /metrics} exports (read from the same meters),
 * the readiness checks with their reasons, the worker pipeline's stages, the recent errors, and the
 * last five minutes one sample a second, as columns; with {@code ?since=<seq>} only the samples
 * after {@code seq}. It never holds payload content.
 *
 * <p>Access: the page itself is open (it holds no data); {@code /v1/status} is behind the API keys
 * when they are configured, like every {@code /v1/} path, and the page then asks for a key. GET and
 * HEAD; 405 otherwise. Thread-safe; nothing blocks.
 */
final class StatusService implements HttpService {
  static final String STATUS_PATH = "/v1/status";

  /** The page may talk to its own origin only. */
  private static final String CSP =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
          + " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  private static final Problem GET_ONLY = new Problem.MethodNotAllowed("GET, HEAD", "use GET");
  private static final JsonFactory JSON = new JsonFactory();

  /** The sample columns of {@code history}, in order. */
  private static final List<Column> COLUMNS =
      List.of(
          new Column("t", History.Sample::atMillis),
          new Column("accepted", History.Sample::accepted),
          new Column("stored", History.Sample::stored),
          new Column("r2xx", History.Sample::r2xx),
          new Column("r4xx", History.Sample::r4xx),
          new Column("r429", History.Sample::r429),
          new Column("r5xx", History.Sample::r5xx),
          new Column("queuePayloads", History.Sample::queuePayloads),
          new Column("queueBytes", History.Sample::queueBytes),
          new Column("oldestUnstoredAgeSeconds", History.Sample::oldestUnstoredAgeSeconds),
          new Column("uploadsInFlight", History.Sample::uploadsInFlight),
          new Column("uploads", History.Sample::uploads),
          new Column("uploadMeanMs", History.Sample::uploadMeanMs),
          new Column("uploadP50Ms", History.Sample::uploadP50Ms),
          new Column("uploadP99Ms", History.Sample::uploadP99Ms));

  private record Column(String name, ToDoubleFunction<History.Sample> value) {}

  private record Asset(String path, String contentType, byte[] body) {}

  private final Config config;
  private final Metrics metrics;
  private final ServiceState state;
  private final Replies replies;
  private final List<Asset> assets;

  StatusService(Config config, Metrics metrics, ServiceState state, Replies replies) {
    this.config = config;
    this.metrics = metrics;
    this.state = state;
    this.replies = replies;
    this.assets =
        List.of(
            new Asset("/", "text/html; charset=utf-8", resource("status/status.html")),
            new Asset("/status.css", "text/css; charset=utf-8", resource("status/status.css")),
            new Asset(
                "/status.js", "text/javascript; charset=utf-8", resource("status/status.js")));
  }

  private static byte[] resource(String name) {
    try (InputStream in = StatusService.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + name + " next to StatusService");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void routing(HttpRules rules) {
    for (Asset a : assets) {
      rules.any(a.path(), (req, res) -> asset(req, res, a));
    }
    Handler status = this::status;
    if (config.apiKeys().isEmpty()) {
      rules.get(STATUS_PATH, status).head(STATUS_PATH, status);
    } else {
      BearerAuth auth = new BearerAuth(config.apiKeys(), replies);
      rules.get(STATUS_PATH, auth, status).head(STATUS_PATH, auth, status);
    }
    rules.any(STATUS_PATH, (req, res) -> replies.problem(res, GET_ONLY));
  }

  private void asset(ServerRequest req, ServerResponse res, Asset a) {
    if (replies.allowGet(req, res)) {
      res.header(HeaderNames.CONTENT_TYPE, a.contentType());
      res.header(HeaderNames.CACHE_CONTROL, "no-cache");
      res.header(HeaderValues.create("Content-Security-Policy", CSP));
      res.header(HeaderValues.create("X-Content-Type-Options", "nosniff"));
      replies.send(res, 200, a.body());
    }
  }

  private void status(ServerRequest req, ServerResponse res) {
    long since = 0;
    String s = req.query().first("since").orElse(null);
    if (s != null) {
      try {
        since = Math.max(0, Long.parseLong(s));
      } catch (NumberFormatException e) {
        replies.problem(
            res, new Problem.Malformed("since must be a sample number (a non-negative integer)"));
        return;
      }
    }
    res.header(HeaderNames.CACHE_CONTROL, "no-store");
    replies.json(res, 200, snapshot(since, System.currentTimeMillis()));
  }

  /** {@return the status as JSON, with the samples after {@code since}} */
  String snapshot(long since, long nowMillis) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeNumberField("time", nowMillis);
      service(g);
      readiness(g);
      queue(g);
      uploads(g);
      totals(g);
      stages(g);
      errors(g);
      history(g, since);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // into memory: cannot happen
    }
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }

  private void service(JsonGenerator g) throws IOException {
    g.writeObjectFieldStart("service");
    g.writeStringField("role", config.role());
    g.writeStringField("queue", config.durableQueue() ? "jetstream" : config.queue());
    g.writeStringField("mode", config.mode().name().toLowerCase(java.util.Locale.ROOT));
    g.writeStringField("phase", state.phase().name().toLowerCase(java.util.Locale.ROOT));
    g.writeNumberField("maxWorkers", config.maxWorkers());
    g.writeEndObject();
  }

  private void readiness(JsonGenerator g) throws IOException {
    List<ServiceState.Check> checks = new ArrayList<>();
    checks.add(
        new ServiceState.Check(
            "phase",
            switch (state.phase()) {
              case STARTING -> "starting";
              case SHUTTING_DOWN -> "shutting down";
              case SERVING -> null;
            }));
    checks.addAll(state.checks());
    boolean ready = checks.stream().allMatch(ServiceState.Check::ok);
    g.writeBooleanField("ready", ready);
    g.writeArrayFieldStart("checks");
    for (ServiceState.Check c : checks) {
      g.writeStartObject();
      g.writeStringField("name", c.name());
      g.writeBooleanField("ok", c.ok());
      g.writeStringField("reason", c.failure());
      g.writeEndObject();
    }
    g.writeEndArray();
  }

  private void queue(JsonGenerator g) throws IOException {
    g.writeObjectFieldStart("queue");
    number(g, "payloads", metrics.value("millrace_queue_payloads"));
    number(g, "maxPayloads", metrics.value("millrace_queue_max_payloads"));
    number(g, "bytes", metrics.value("millrace_queue_bytes"));
    number(g, "maxBytes", metrics.value("millrace_queue_max_bytes"));
    number(
        g, "oldestUnstoredAgeSeconds", metrics.value("millrace_queue_oldest_unstored_age_seconds"));
    g.writeEndObject();
  }

  private void uploads(JsonGenerator g) throws IOException {
    History.Sample last = metrics.history.latest();
    g.writeObjectFieldStart("uploads");
    number(g, "inFlight", metrics.value("millrace_uploads_in_flight"));
    g.writeNumberField("maxWorkers", config.maxWorkers());
    number(g, "meanMs", last == null ? Double.NaN : last.uploadMeanMs());
    number(g, "p50Ms", last == null ? Double.NaN : last.uploadP50Ms());
    number(g, "p99Ms", last == null ? Double.NaN : last.uploadP99Ms());
    g.writeNumberField("windowSeconds", History.LATENCY_WINDOW);
    g.writeEndObject();
  }

  private void totals(JsonGenerator g) throws IOException {
    long r2 = 0;
    long r4 = 0;
    long r429 = 0;
    long r5 = 0;
    for (Map.Entry<Integer, Long> e : metrics.responsesByStatus().entrySet()) {
      int st = e.getKey();
      if (st >= 200 && st < 300) {
        r2 += e.getValue();
      } else if (st >= 400 && st < 500) {
        r4 += e.getValue();
        r429 += st == 429 ? e.getValue() : 0;
      } else if (st >= 500) {
        r5 += e.getValue();
      }
    }
    g.writeObjectFieldStart("totals");
    g.writeNumberField("accepted", (long) metrics.payloadsAccepted.count());
    g.writeNumberField("stored", (long) metrics.payloadsStored.count());
    g.writeNumberField("objectsStored", (long) metrics.objectsStored.count());
    g.writeNumberField("uploadRetries", (long) metrics.uploadRetries.count());
    g.writeNumberField("r2xx", r2);
    g.writeNumberField("r4xx", r4);
    g.writeNumberField("r429", r429);
    g.writeNumberField("r5xx", r5);
    g.writeEndObject();
    g.writeObjectFieldStart("rates");
    History.Sample last = metrics.history.latest();
    for (Column c : COLUMNS.subList(1, 7)) {
      number(g, c.name(), last == null ? Double.NaN : c.value().applyAsDouble(last));
    }
    g.writeEndObject();
  }

  private void stages(JsonGenerator g) throws IOException {
    Map<String, Double> in = metrics.valuesBy("millrace_pipeline_stage_in", "stage");
    Map<String, Double> out = metrics.valuesBy("millrace_pipeline_stage_out", "stage");
    Map<String, Double> inFlight = metrics.valuesBy("millrace_pipeline_stage_in_flight", "stage");
    Map<String, Double> buffered = metrics.valuesBy("millrace_pipeline_stage_buffered", "stage");
    Map<String, Double> busy = metrics.valuesBy("millrace_pipeline_stage_busy_seconds", "stage");
    Map<String, Double> retried = metrics.valuesBy("millrace_pipeline_stage_retried", "stage");
    Map<String, Double> failed = metrics.valuesBy("millrace_pipeline_stage_failed", "stage");
    g.writeArrayFieldStart("stages");
    for (String name : in.keySet()) {
      g.writeStartObject();
      g.writeStringField("name", name);
      number(g, "in", in.get(name));
      number(g, "out", out.get(name));
      number(g, "inFlight", inFlight.get(name));
      number(g, "buffered", buffered.get(name));
      number(g, "busySeconds", busy.get(name));
      number(g, "retried", retried.get(name));
      number(g, "failed", failed.get(name));
      g.writeEndObject();
    }
    g.writeEndArray();
  }

  private void errors(JsonGenerator g) throws IOException {
    g.writeNumberField("errorsTotal", metrics.errors.total());
    g.writeArrayFieldStart("errors");
    for (RecentErrors.Event e : metrics.errors.snapshot()) {
      g.writeStartObject();
      g.writeStringField("kind", e.kind());
      g.writeStringField("message", e.message());
      g.writeNumberField("first", e.firstAtMillis());
      g.writeNumberField("last", e.lastAtMillis());
      g.writeNumberField("count", e.count());
      g.writeEndObject();
    }
    g.writeEndArray();
  }

  private void history(JsonGenerator g, long since) throws IOException {
    List<History.Sample> samples = metrics.history.since(since);
    g.writeObjectFieldStart("history");
    g.writeNumberField("intervalMs", 1000);
    g.writeNumberField("capacity", History.CAPACITY);
    History.Sample last = metrics.history.latest();
    g.writeNumberField("last", last == null ? 0 : last.seq());
    g.writeArrayFieldStart("seq");
    for (History.Sample s : samples) {
      g.writeNumber(s.seq());
    }
    g.writeEndArray();
    for (Column c : COLUMNS) {
      g.writeArrayFieldStart(c.name());
      for (History.Sample s : samples) {
        double v = c.value().applyAsDouble(s);
        if (Double.isFinite(v)) {
          writeRounded(g, v);
        } else {
          g.writeNull();
        }
      }
      g.writeEndArray();
    }
    g.writeEndObject();
  }

  /** Writes a number, or null for NaN and infinities (JSON has neither). */
  private static void number(JsonGenerator g, String field, Double v) throws IOException {
    g.writeFieldName(field);
    if (v == null || !Double.isFinite(v)) {
      g.writeNull();
    } else {
      writeRounded(g, v);
    }
  }

  /** Whole numbers as integers, others to three decimals: short JSON, enough for a page. */
  private static void writeRounded(JsonGenerator g, double v) throws IOException {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      g.writeNumber((long) v);
    } else {
      g.writeNumber(Math.round(v * 1000) / 1000.0);
    }
  }
}
