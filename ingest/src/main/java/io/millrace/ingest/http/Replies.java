package io.millrace.ingest.http;

import io.helidon.http.Header;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.millrace.ingest.metrics.Metrics;
import java.nio.charset.StandardCharsets;

/**
 * Sends responses, each counted by status in the metrics. A response to {@code HEAD} has the
 * headers a {@code GET} would have, {@code Content-Length} included, and no body (RFC 9110 section
 * 9.3.2): the routing's filter marks the thread while it handles a {@code HEAD} ({@link
 * #handlingHead}). Thread-safe.
 */
final class Replies {
  private static final Problem GET_ONLY = new Problem.MethodNotAllowed("GET, HEAD", "use GET");

  /** Set on a connection's thread while it routes a {@code HEAD} request; see {@link HttpApi}. */
  private static final ThreadLocal<Boolean> HEAD = new ThreadLocal<>();

  private final Metrics metrics;

  Replies(Metrics metrics) {
    this.metrics = metrics;
  }

  /** Sends a JSON body. */
  void json(ServerResponse res, int status, String body) {
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    send(res, status, body.getBytes(StandardCharsets.UTF_8));
  }

  /** Sends a problem, with the status, body and headers {@link Problems#shape} gives it. */
  void problem(ServerResponse res, Problem problem) {
    Problems.Shape p = Problems.shape(problem);
    recordError(problem, p);
    for (Header h : p.headers()) {
      res.header(h);
    }
    res.header(HeaderNames.CONTENT_TYPE, Problems.CONTENT_TYPE);
    send(res, p.status(), Problems.body(p.status(), p.slug(), p.title(), p.detail()));
  }

  /**
   * Records a refused request in the recent errors: admission refused (queue full or unavailable,
   * with the queue's reason) or a request rejected as bad (its status and problem type only: a
   * problem's detail may quote the body). Answers that are not errors of a request (unknown paths,
   * other methods, starting, shutting down, readiness) are not recorded.
   */
  private void recordError(Problem problem, Problems.Shape p) {
    switch (problem) {
      case Problem.QueueFull q ->
          metrics.errors.record("admission", "429 queue full: nothing admitted");
      case Problem.QueueUnavailable q ->
          metrics.errors.record("admission", "503 queue unavailable: " + q.reason());
      case Problem.StorageFailed f ->
          metrics.errors.record(
              "admission",
              "503 " + (f.diskFull() ? "disk full" : "storage error") + ": " + f.detail());
      case Problem.Unauthorized u -> rejected(p);
      case Problem.BadIdempotencyKey b -> rejected(p);
      case Problem.UnsupportedMediaType u -> rejected(p);
      case Problem.UnsupportedEncoding u -> rejected(p);
      case Problem.TooLarge t -> rejected(p);
      case Problem.BadGzip b -> rejected(p);
      case Problem.IncompleteBody i -> rejected(p);
      case Problem.Malformed m -> rejected(p);
      case Problem.NotFound n -> {}
      case Problem.MethodNotAllowed m -> {}
      case Problem.Starting s -> {}
      case Problem.ShuttingDown s -> {}
      case Problem.NotReady n -> {}
    }
  }

  private void rejected(Problems.Shape p) {
    metrics.errors.record("rejected", p.status() + " " + p.slug());
  }

  /**
   * Sends a body as it is (the caller set its content type); to a {@code HEAD}, only its length.
   */
  void send(ServerResponse res, int status, byte[] body) {
    metrics.response(status);
    res.status(Status.create(status));
    if (HEAD.get() != null) {
      res.header(HeaderNames.CONTENT_LENGTH, Integer.toString(body.length));
      res.send();
    } else {
      res.send(body);
    }
  }

  /**
   * Runs the routing of one request; while it runs on this thread, responses sent through a {@link
   * Replies} have no body if the request is a {@code HEAD}. Helidon routes a request on the
   * connection's own thread, start to end.
   */
  static void handlingHead(ServerRequest req, Runnable routing) {
    if (req.prologue().method() != Method.HEAD) {
      routing.run();
      return;
    }
    HEAD.set(Boolean.TRUE);
    try {
      routing.run();
    } finally {
      HEAD.remove();
    }
  }

  /** {@return whether the method is GET or HEAD; else answers 405 and returns false} */
  boolean allowGet(ServerRequest req, ServerResponse res) {
    Method m = req.prologue().method();
    if (m == Method.GET || m == Method.HEAD) {
      return true;
    }
    problem(res, GET_ONLY);
    return false;
  }
}
