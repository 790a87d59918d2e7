package io.millrace.ingest.http;

import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderValues;
import io.helidon.http.encoding.ContentEncodingContext;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.DirectHandlers;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http1.Http1Config;
import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Intake;
import java.io.IOException;

/**
 * The HTTP contract: {@code POST /v1/payloads} ({@link PayloadsService}), the probes and documents
 * ({@link ProbesService}), the status page and its JSON ({@link StatusService}), 404 for every
 * other path, and problem bodies for what the server itself rejects before routing. Every error is
 * an RFC 9457 problem ({@link Problems}).
 */
public final class HttpApi {
  private final Config config;
  private final Metrics metrics;
  private final Replies replies;
  private final PayloadsService payloads;
  private final ProbesService probes;
  private final StatusService status;

  /**
   * @param config the service's configuration (role, API keys, body limit, address)
   * @param intake where admitted payloads go; null when the role does not admit
   * @param metrics where every response is counted
   * @param state the service's phase (admission opens only while serving) and readiness
   */
  public HttpApi(Config config, Intake intake, Metrics metrics, ServiceState state) {
    this.config = config;
    this.metrics = metrics;
    this.replies = new Replies(metrics);
    this.payloads = new PayloadsService(config, intake, metrics, state, replies);
    this.probes = new ProbesService(metrics, state, replies);
    this.status = new StatusService(config, metrics, state, replies);
  }

  /** Adds the routes: payloads, probes, and a 404 problem for anything else. */
  public void routing(HttpRouting.Builder r) {
    r.addFilter(HttpApi::closeWhenAsked)
        .addFilter((chain, req, res) -> Replies.handlingHead(req, chain::proceed))
        .register(payloads, probes, status)
        .any(
            (req, res) ->
                replies.problem(res, new Problem.NotFound("no resource at " + req.path().path())));
  }

  /**
   * Starts a server with this routing on the configured address; it serves at once. With {@code
   * MILLRACE_TLS_CERT} and {@code MILLRACE_TLS_KEY} it serves TLS ({@link ListenerTls}) and reloads
   * it when the files change, until the server stops.
   *
   * @return the running server (its own shutdown hook off: the service stops it)
   * @throws IOException if it cannot listen (the message names the address), or a TLS file is
   *     missing or wrong (the message names the variable and the file)
   */
  public WebServer startServer() throws IOException {
    ListenerTls tls = config.tls() ? ListenerTls.load(config) : null;
    WebServer ws = server(tls).start();
    if (!ws.isRunning() || ws.port() <= 0) {
      // Helidon logs the bind failure and returns a server that is not running
      ws.stop();
      throw new IOException(
          "could not listen on "
              + config.host()
              + ":"
              + config.port()
              + " (is the port in use? set MILLRACE_PORT)");
    }
    if (tls != null) {
      tls.watch(ws);
    }
    return ws;
  }

  /**
   * Ends the connection after this exchange when the request or the response says {@code
   * Connection: close}: Helidon writes the header but would keep reading the socket.
   */
  private static void closeWhenAsked(FilterChain chain, RoutingRequest req, RoutingResponse res) {
    try {
      chain.proceed();
    } finally {
      if (req.headers().containsToken(HeaderValues.CONNECTION_CLOSE)
          || res.headers().containsToken(HeaderValues.CONNECTION_CLOSE)) {
        Http1Session session = Http1Session.current();
        if (session != null) {
          session.endAfterThisExchange();
        }
      }
    }
  }

  private WebServer server(ListenerTls tls) {
    DirectHandler direct = Problems.serverRejections(metrics);
    DirectHandlers.Builder dh = DirectHandlers.builder();
    for (DirectHandler.EventType t : DirectHandler.EventType.values()) {
      dh.addHandler(t, direct);
    }
    WebServerConfig.Builder b = WebServer.builder();
    if (tls != null) {
      b.tls(tls.tls());
    }
    return b.host(config.host())
        .port(config.port())
        .shutdownHook(false)
        .maxPayloadSize(config.maxBodyBytes())
        .contentEncoding(
            ContentEncodingContext.create(
                c ->
                    c.contentEncodingsDiscoverServices(false)
                        .contentEncodings(PassThroughEncodings.all())))
        .directHandlers(dh.build())
        // one selector for HTTP/1.1 and HTTP/1.0 (which Helidon alone rejects); no other protocol
        .protocolsDiscoverServices(false)
        .addConnectionSelector(
            new Http1Selector(
                Http1Config.builder().maxHeadersSize(16 * 1024).maxPrologueLength(4096).build()))
        .routing(this::routing)
        .build();
  }
}
