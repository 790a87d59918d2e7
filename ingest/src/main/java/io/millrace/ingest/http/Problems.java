package io.millrace.ingest.http;

import io.helidon.http.DirectHandler;
import io.helidon.http.Header;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.ServerResponseHeaders;
import io.helidon.http.Status;
import io.millrace.ingest.metrics.Metrics;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * RFC 9457 problem details, as {@code application/problem+json} bodies: the one mapping from every
 * {@link Problem} (and every rejection by the server itself, before routing) to a status, a {@code
 * type}, a title, a detail and the headers that go with it. Stateless.
 */
public final class Problems {
  public static final String CONTENT_TYPE = "application/problem+json";

  private static final Header CLOSE = HeaderValues.create(HeaderNames.CONNECTION, "close");

  private Problems() {}

  /**
   * One problem as it is sent.
   *
   * @param status the HTTP status
   * @param slug the last part of its {@code type} URN
   * @param title the status's title
   * @param detail what happened, or null
   * @param headers what goes with it ({@code Retry-After}, {@code Allow}, ...)
   */
  record Shape(int status, String slug, String title, String detail, List<Header> headers) {
    Shape(int status, String slug, String title, String detail, Header... headers) {
      this(status, slug, title, detail, List.of(headers));
    }
  }

  /** {@return how a problem is answered} */
  static Shape shape(Problem problem) {
    return switch (problem) {
      case Problem.NotFound p -> new Shape(404, "not-found", "Not Found", p.detail());
      case Problem.MethodNotAllowed p ->
          new Shape(
              405,
              "method-not-allowed",
              "Method Not Allowed",
              p.use(),
              HeaderValues.create(HeaderNames.ALLOW, p.allow()));
      case Problem.Unauthorized p ->
          new Shape(
              401,
              "unauthorized",
              "Unauthorized",
              "send Authorization: Bearer <key> with one of the configured API keys",
              HeaderValues.create(HeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"millrace\""));
      case Problem.Starting p ->
          new Shape(
              503,
              "starting",
              "Service Unavailable",
              "the service is starting; nothing is admitted yet",
              retryAfter(1));
      case Problem.ShuttingDown p ->
          new Shape(
              503,
              "shutting-down",
              "Service Unavailable",
              "the service is shutting down",
              retryAfter(5));
      case Problem.BadIdempotencyKey p ->
          new Shape(
              400,
              "bad-idempotency-key",
              "Bad Request",
              "Idempotency-Key must be 1..128 visible ASCII characters");
      case Problem.UnsupportedMediaType p ->
          new Shape(
              415,
              "unsupported-media-type",
              "Unsupported Media Type",
              "Content-Type must be application/json or application/x-ndjson");
      case Problem.UnsupportedEncoding p ->
          new Shape(
              415,
              "unsupported-content-encoding",
              "Unsupported Media Type",
              "Content-Encoding must be gzip or absent");
      case Problem.TooLarge p ->
          new Shape(413, "too-large", "Content Too Large", p.detail(), CLOSE);
      case Problem.BadGzip p ->
          new Shape(400, "bad-gzip", "Bad Request", "the gzip body is corrupt or truncated");
      case Problem.IncompleteBody p ->
          new Shape(
              400,
              "incomplete-body",
              "Bad Request",
              "the request body could not be read to its end: " + p.cause(),
              CLOSE);
      case Problem.Malformed p -> new Shape(400, "malformed", "Bad Request", p.detail());
      case Problem.QueueFull p ->
          new Shape(
              429,
              "queue-full",
              "Too Many Requests",
              "the queue is full; retry after " + p.retryAfterSeconds() + " s",
              retryAfter(p.retryAfterSeconds()));
      case Problem.QueueUnavailable p ->
          new Shape(
              503,
              "queue-unavailable",
              "Service Unavailable",
              p.reason(),
              retryAfter(p.retryAfterSeconds()));
      case Problem.StorageFailed p ->
          new Shape(
              503,
              p.diskFull() ? "disk-full" : "storage-error",
              "Service Unavailable",
              p.detail(),
              retryAfter(5));
      case Problem.NotReady p -> new Shape(503, "not-ready", "Service Unavailable", p.reasons());
    };
  }

  private static Header retryAfter(int seconds) {
    return HeaderValues.create(HeaderNames.RETRY_AFTER, Integer.toString(seconds));
  }

  /** {@return the body for a problem; {@code type} is a short slug, turned into a URN} */
  static byte[] body(int status, String slug, String title, String detail) {
    StringBuilder sb = new StringBuilder(160);
    sb.append("{\"type\":\"urn:millrace:problem:").append(slug).append("\",\"title\":");
    quote(sb, title);
    sb.append(",\"status\":").append(status);
    if (detail != null) {
      sb.append(",\"detail\":");
      quote(sb, detail);
    }
    sb.append('}');
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  /**
   * {@return problem bodies for what the server rejects before routing (bad framing, huge headers,
   * ...), counted like every other response}
   */
  static DirectHandler serverRejections(Metrics metrics) {
    return (request, eventType, status, headers, message) ->
        serverRejection(metrics, eventType, status, headers, message);
  }

  private static DirectHandler.TransportResponse serverRejection(
      Metrics metrics,
      DirectHandler.EventType eventType,
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
    return DirectHandler.TransportResponse.builder()
        .status(status)
        .headers(headers)
        .header(HeaderNames.CONTENT_TYPE, CONTENT_TYPE)
        .keepAlive(false)
        .entity(body(code, slug, status.reasonPhrase(), safe))
        .build();
  }
}
