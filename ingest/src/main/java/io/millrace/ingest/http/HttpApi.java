package io.millrace.ingest.http;

import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.ServerResponseHeaders;
import io.helidon.http.Status;
import io.helidon.http.encoding.ContentDecoder;
import io.helidon.http.encoding.ContentEncoder;
import io.helidon.http.encoding.ContentEncoding;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.Intake;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * The HTTP contract: {@code POST /v1/payloads}, {@code /healthz}, {@code /readyz}, {@code
 * /metrics}, {@code /openapi.yaml}. Every error is an RFC 9457 problem. Handlers run on the
 * server's virtual threads and block.
 */
public final class HttpApi {
  private final Config config;
  private final Intake intake;
  private final Metrics metrics;
  private final BooleanSupplier shuttingDown;
  private final Supplier<List<String>> notReady;
  private final List<byte[]> keyDigests = new ArrayList<>();
  private final byte[] openapi;
  private final boolean admits;

  /**
   * Creates the handlers.
   *
   * @param config the configuration (role, API keys, body limit)
   * @param intake where payloads are admitted; null when the role does not admit
   * @param metrics where counters go
   * @param shuttingDown whether the service is shutting down
   * @param notReady why this node is not ready besides shutting down (queue, store, workers); empty
   *     when ready
   */
  public HttpApi(
      Config config,
      Intake intake,
      Metrics metrics,
      BooleanSupplier shuttingDown,
      Supplier<List<String>> notReady) {
    this.config = config;
    this.intake = intake;
    this.metrics = metrics;
    this.shuttingDown = shuttingDown;
    this.notReady = notReady;
    this.admits = config.roleKind().admits();
    for (String k : config.apiKeys()) {
      keyDigests.add(sha256(k.getBytes(StandardCharsets.US_ASCII)));
    }
    try (InputStream in = HttpApi.class.getResourceAsStream("openapi.yaml")) {
      openapi = in == null ? new byte[0] : in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public void routing(HttpRouting.Builder r) {
    r.any("/v1/payloads", this::payloads)
        .any(
            "/healthz",
            (req, res) -> {
              if (allowGet(req, res)) {
                json(res, 200, "{\"status\":\"alive\"}");
              }
            })
        .any("/readyz", this::readyz)
        .any(
            "/metrics",
            (req, res) -> {
              if (allowGet(req, res)) {
                byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
                res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
                send(res, 200, body);
              }
            })
        .any(
            "/openapi.yaml",
            (req, res) -> {
              if (allowGet(req, res)) {
                res.header(HeaderNames.CONTENT_TYPE, "application/yaml");
                send(res, 200, openapi);
              }
            })
        .any(
            (req, res) ->
                problem(res, 404, "not-found", "Not Found", "no resource at " + req.path().path()));
  }

  // ------------------------------------------------------------------ POST /v1/payloads

  private static final HeaderName IDEMPOTENCY_KEY = HeaderNames.create("Idempotency-Key");
  private static final HeaderName IDEMPOTENT_REPLAYED = HeaderNames.create("Idempotent-Replayed");
  private static final java.util.regex.Pattern IDEMPOTENCY_KEY_SYNTAX =
      java.util.regex.Pattern.compile("[\\x21-\\x7e]{1,128}");

  private void payloads(ServerRequest req, ServerResponse res) {
    if (!admits) {
      problem(
          res,
          404,
          "not-found",
          "Not Found",
          "this node runs MILLRACE_ROLE=worker and admits nothing;"
              + " send payloads to an ingest node");
      return;
    }
    if (req.prologue().method() != Method.POST) {
      res.header(HeaderNames.ALLOW, "POST");
      problem(res, 405, "method-not-allowed", "Method Not Allowed", "use POST");
      return;
    }
    if (!keyDigests.isEmpty() && !authorized(req)) {
      res.header(HeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"millrace\"");
      problem(
          res,
          401,
          "unauthorized",
          "Unauthorized",
          "send Authorization: Bearer <key> with one of the configured API keys");
      return;
    }
    if (shuttingDown.getAsBoolean()) {
      res.header(HeaderNames.RETRY_AFTER, "5");
      problem(res, 503, "shutting-down", "Service Unavailable", "the service is shutting down");
      return;
    }
    String idempotencyKey = req.headers().first(IDEMPOTENCY_KEY).map(String::trim).orElse(null);
    if (idempotencyKey != null && !IDEMPOTENCY_KEY_SYNTAX.matcher(idempotencyKey).matches()) {
      problem(
          res,
          400,
          "bad-idempotency-key",
          "Bad Request",
          "Idempotency-Key must be 1..128 visible ASCII characters");
      return;
    }
    String type = req.headers().first(HeaderNames.CONTENT_TYPE).orElse("");
    int semi = type.indexOf(';');
    String mediaType = (semi < 0 ? type : type.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    boolean ndjson;
    if (mediaType.equals("application/json")) {
      ndjson = false;
    } else if (mediaType.equals("application/x-ndjson")) {
      ndjson = true;
    } else {
      problem(
          res,
          415,
          "unsupported-media-type",
          "Unsupported Media Type",
          "Content-Type must be application/json or application/x-ndjson");
      return;
    }
    String encoding =
        req.headers()
            .first(HeaderNames.CONTENT_ENCODING)
            .orElse("identity")
            .trim()
            .toLowerCase(Locale.ROOT);
    boolean gzip;
    if (encoding.equals("gzip") || encoding.equals("x-gzip")) {
      gzip = true;
    } else if (encoding.equals("identity") || encoding.isEmpty()) {
      gzip = false;
    } else {
      problem(
          res,
          415,
          "unsupported-content-encoding",
          "Unsupported Media Type",
          "Content-Encoding must be gzip or absent");
      return;
    }
    long max = config.maxBodyBytes();
    OptionalLong declared = req.headers().contentLength();
    if (declared.isPresent() && declared.getAsLong() > max) {
      tooLarge(res, "the body is " + declared.getAsLong() + " bytes; MAX_BODY_BYTES is " + max);
      return;
    }
    byte[] body;
    try {
      body =
          readAtMost(
              req.content().inputStream(),
              max,
              declared.isPresent() ? (int) declared.getAsLong() : 8192);
      if (body == null) {
        tooLarge(res, "the body is over MAX_BODY_BYTES (" + max + ")");
        return;
      }
      if (gzip) {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(body), 8192)) {
          body = readAtMost(in, max, (int) Math.min(max, (long) body.length * 4));
        } catch (ZipException | java.io.EOFException e) {
          problem(res, 400, "bad-gzip", "Bad Request", "the gzip body is corrupt or truncated");
          return;
        }
        if (body == null) {
          tooLarge(res, "the decompressed body is over MAX_BODY_BYTES (" + max + ")");
          return;
        }
      }
    } catch (io.helidon.http.RequestException | io.helidon.http.HttpException e) {
      throw e; // the server's own verdicts (413 from its payload limit, ...) go to the direct
      // handler
    } catch (IOException | RuntimeException e) {
      // the connection ended before the body did (truncated body, wrong Content-Length, bad chunk)
      res.header(HeaderNames.CONNECTION, "close");
      problem(
          res,
          400,
          "incomplete-body",
          "Bad Request",
          "the request body could not be read to its end: " + e.getClass().getSimpleName());
      return;
    }
    List<byte[]> payloads;
    try {
      payloads = ndjson ? PayloadParser.parseNdjson(body) : PayloadParser.parseEnvelope(body);
    } catch (PayloadParser.MalformedException e) {
      problem(res, 400, "malformed", "Bad Request", e.getMessage());
      return;
    }
    switch (intake.admit(payloads, idempotencyKey)) {
      case Admission.Admitted a -> {
        metrics.payloadsAccepted.increment(a.count());
        json(res, 202, "{\"accepted\":" + a.count() + "}");
      }
      case Admission.Replayed r -> {
        res.header(IDEMPOTENT_REPLAYED, "true");
        json(res, 202, "{\"accepted\":" + r.count() + ",\"replayed\":true}");
      }
      case Admission.Unavailable u -> {
        res.header(HeaderNames.RETRY_AFTER, Integer.toString(u.retryAfterSeconds()));
        problem(res, 503, "queue-unavailable", "Service Unavailable", u.reason());
      }
      case Admission.TooLarge t -> tooLarge(res, t.detail());
      case Admission.QueueFull f -> {
        res.header(HeaderNames.RETRY_AFTER, Integer.toString(f.retryAfterSeconds()));
        problem(
            res,
            429,
            "queue-full",
            "Too Many Requests",
            "the queue is full; retry after " + f.retryAfterSeconds() + " s");
      }
      case Admission.ShuttingDown s -> {
        res.header(HeaderNames.RETRY_AFTER, "5");
        problem(res, 503, "shutting-down", "Service Unavailable", "the service is shutting down");
      }
    }
  }

  private void tooLarge(ServerResponse res, String detail) {
    res.header(HeaderNames.CONNECTION, "close");
    problem(res, 413, "too-large", "Content Too Large", detail);
  }

  /**
   * Reads the stream to its end; null if it holds more than {@code max} bytes.
   *
   * @param expected the likely size (the declared Content-Length): one exact buffer, read once
   */
  static byte[] readAtMost(InputStream in, long max, int expected) throws IOException {
    byte[] buf = new byte[(int) Math.min(max + 1, Math.max(expected + 1, 256))];
    int n = 0;
    while (true) {
      if (n == buf.length) {
        if (n > max) {
          return null;
        }
        buf = java.util.Arrays.copyOf(buf, (int) Math.min(max + 1, (long) buf.length * 2));
      }
      int r = in.read(buf, n, buf.length - n);
      if (r < 0) {
        break;
      }
      n += r;
      if (n > max) {
        return null;
      }
    }
    return n == buf.length ? buf : java.util.Arrays.copyOf(buf, n);
  }

  private boolean authorized(ServerRequest req) {
    Optional<String> h = req.headers().first(HeaderNames.AUTHORIZATION);
    if (h.isEmpty() || !h.get().regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    byte[] given = sha256(h.get().substring(7).trim().getBytes(StandardCharsets.UTF_8));
    boolean ok = false;
    for (byte[] k : keyDigests) {
      ok |= MessageDigest.isEqual(given, k); // every key compared: no early exit
    }
    return ok;
  }

  private static byte[] sha256(byte[] b) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(b);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ probes

  private void readyz(ServerRequest req, ServerResponse res) {
    if (!allowGet(req, res)) {
      return;
    }
    List<String> reasons = new ArrayList<>();
    if (shuttingDown.getAsBoolean()) {
      reasons.add("shutting down");
    }
    reasons.addAll(notReady.get());
    if (reasons.isEmpty()) {
      json(res, 200, "{\"status\":\"ready\"}");
    } else {
      problem(res, 503, "not-ready", "Service Unavailable", String.join("; ", reasons));
    }
  }

  private boolean allowGet(ServerRequest req, ServerResponse res) {
    Method m = req.prologue().method();
    if (m == Method.GET || m == Method.HEAD) {
      return true;
    }
    res.header(HeaderNames.ALLOW, "GET, HEAD");
    problem(res, 405, "method-not-allowed", "Method Not Allowed", "use GET");
    return false;
  }

  // ------------------------------------------------------------------ responses

  private void json(ServerResponse res, int status, String body) {
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    send(res, status, body.getBytes(StandardCharsets.UTF_8));
  }

  private void problem(ServerResponse res, int status, String slug, String title, String detail) {
    res.header(HeaderNames.CONTENT_TYPE, Problems.CONTENT_TYPE);
    send(res, status, Problems.body(status, slug, title, detail));
  }

  private void send(ServerResponse res, int status, byte[] body) {
    metrics.response(status);
    res.status(Status.create(status));
    res.send(body);
  }

  // ------------------------------------------------------------------ server-level pieces

  /** Problem bodies for what the server rejects before routing (bad framing, huge headers, ...). */
  public DirectHandler directHandler() {
    return new DirectHandler() {
      @Override
      public TransportResponse handle(
          TransportRequest request,
          EventType eventType,
          Status status,
          ServerResponseHeaders headers,
          String message) {
        int code = status.code();
        metrics.response(code);
        String slug =
            switch (eventType) {
              case PAYLOAD_TOO_LARGE -> "too-large";
              case BAD_REQUEST -> "bad-request";
              case FORBIDDEN -> "forbidden";
              case HTTP_VERSION_NOT_SUPPORTED -> "http-version-not-supported";
              case INTERNAL_ERROR -> "internal-error";
              default -> "request-rejected";
            };
        String safe = message == null ? null : message.replaceAll("[^\\x20-\\x7e]", "?");
        if (safe != null && safe.length() > 300) {
          safe = safe.substring(0, 300);
        }
        return TransportResponse.builder()
            .status(status)
            .headers(headers)
            .header(HeaderNames.CONTENT_TYPE, Problems.CONTENT_TYPE)
            .keepAlive(false)
            .entity(Problems.body(code, slug, status.reasonPhrase(), safe))
            .build();
      }
    };
  }

  /**
   * Content encodings the server passes through untouched, so the handler decodes gzip itself and
   * counts the decompressed bytes against MAX_BODY_BYTES, and answers 415 for the rest.
   */
  public static List<ContentEncoding> passThroughEncodings() {
    return List.of(
        passThrough("gzip", "x-gzip"),
        passThrough("deflate"),
        passThrough("br"),
        passThrough("zstd"),
        passThrough("compress", "x-compress"));
  }

  private static ContentEncoding passThrough(String... ids) {
    return new ContentEncoding() {
      @Override
      public Set<String> ids() {
        return Set.of(ids);
      }

      @Override
      public boolean supportsEncoding() {
        return false;
      }

      @Override
      public boolean supportsDecoding() {
        return true;
      }

      @Override
      public ContentDecoder decoder() {
        return ContentDecoder.NO_OP;
      }

      @Override
      public ContentEncoder encoder() {
        return ContentEncoder.NO_OP;
      }

      @Override
      public String name() {
        return ids[0];
      }

      @Override
      public String type() {
        return ids[0];
      }
    };
  }
}
