package io.millrace.ingest.http;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.millrace.ingest.metrics.Metrics;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The probes and documents, never behind the API keys: {@code GET /healthz} (the process serves),
 * {@code GET /readyz} (it should get traffic), {@code GET /metrics} (Prometheus text), {@code GET
 * /openapi.yaml}. Each answers GET and HEAD, and 405 otherwise. Thread-safe; nothing blocks.
 */
final class ProbesService implements HttpService {
  private final Metrics metrics;
  private final ServiceState state;
  private final Replies replies;
  private final byte[] openapi;

  ProbesService(Metrics metrics, ServiceState state, Replies replies) {
    this.metrics = metrics;
    this.state = state;
    this.replies = replies;
    try (InputStream in = ProbesService.class.getResourceAsStream("openapi.yaml")) {
      openapi = in == null ? new byte[0] : in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void routing(HttpRules rules) {
    rules
        .any("/healthz", this::healthz)
        .any("/readyz", this::readyz)
        .any("/metrics", this::metrics)
        .any("/openapi.yaml", this::openapi);
  }

  private void healthz(ServerRequest req, ServerResponse res) {
    if (replies.allowGet(req, res)) {
      replies.json(res, 200, "{\"status\":\"alive\"}");
    }
  }

  private void readyz(ServerRequest req, ServerResponse res) {
    if (!replies.allowGet(req, res)) {
      return;
    }
    List<String> reasons = notReadyReasons();
    if (reasons.isEmpty()) {
      replies.json(res, 200, "{\"status\":\"ready\"}");
    } else {
      replies.problem(res, new Problem.NotReady(String.join("; ", reasons)));
    }
  }

  /** {@return why this node should get no traffic now; empty when it is ready} */
  private List<String> notReadyReasons() {
    List<String> reasons = new ArrayList<>();
    switch (state.phase()) {
      case STARTING -> reasons.add("starting");
      case SHUTTING_DOWN -> reasons.add("shutting down");
      case SERVING -> {}
    }
    reasons.addAll(state.notReadyReasons());
    return reasons;
  }

  private void metrics(ServerRequest req, ServerResponse res) {
    if (replies.allowGet(req, res)) {
      byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
      res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
      replies.send(res, 200, body);
    }
  }

  private void openapi(ServerRequest req, ServerResponse res) {
    if (replies.allowGet(req, res)) {
      res.header(HeaderNames.CONTENT_TYPE, "application/yaml");
      replies.send(res, 200, openapi);
    }
  }
}
