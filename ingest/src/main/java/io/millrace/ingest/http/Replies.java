package io.millrace.ingest.http;

import io.helidon.http.Header;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.millrace.ingest.metrics.Metrics;
import java.nio.charset.StandardCharsets;

/** Sends responses, each counted by status in the metrics. Thread-safe. */
final class Replies {
  private static final Problem GET_ONLY = new Problem.MethodNotAllowed("GET, HEAD", "use GET");

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
    for (Header h : p.headers()) {
      res.header(h);
    }
    res.header(HeaderNames.CONTENT_TYPE, Problems.CONTENT_TYPE);
    send(res, p.status(), Problems.body(p.status(), p.slug(), p.title(), p.detail()));
  }

  /** Sends a body as it is (the caller set its content type). */
  void send(ServerResponse res, int status, byte[] body) {
    metrics.response(status);
    res.status(Status.create(status));
    res.send(body);
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
