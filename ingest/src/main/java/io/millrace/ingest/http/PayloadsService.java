package io.millrace.ingest.http;

import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.Intake;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * {@code POST /v1/payloads}: admits every payload of a request into the queue, or none. Each step
 * of a request is a method that passes its result on or throws {@link Rejected}; the steps run in
 * the order of the contract's checks: phase, idempotency key, content type, body, payloads,
 * admission. Handlers run on the server's virtual threads and block.
 */
final class PayloadsService implements HttpService {
  static final String PATH = "/v1/payloads";

  private static final HeaderName IDEMPOTENCY_KEY = HeaderNames.create("Idempotency-Key");
  private static final HeaderName IDEMPOTENT_REPLAYED = HeaderNames.create("Idempotent-Replayed");
  private static final Pattern IDEMPOTENCY_KEY_SYNTAX = Pattern.compile("[\\x21-\\x7e]{1,128}");
  private static final Problem NOT_HERE =
      new Problem.NotFound(
          "this node runs MILLRACE_ROLE=worker and admits nothing;"
              + " send payloads to an ingest node");
  private static final Problem POST_ONLY = new Problem.MethodNotAllowed("POST", "use POST");

  private final Config config;
  private final Intake intake; // null on a node that admits nothing
  private final Metrics metrics;
  private final ServiceState state;
  private final Replies replies;
  private final BodyReader bodies;

  PayloadsService(
      Config config, Intake intake, Metrics metrics, ServiceState state, Replies replies) {
    this.config = config;
    this.intake = intake;
    this.metrics = metrics;
    this.state = state;
    this.replies = replies;
    this.bodies = new BodyReader(config.maxBodyBytes());
  }

  @Override
  public void routing(HttpRules rules) {
    if (intake == null) {
      rules.any(PATH, (req, res) -> replies.problem(res, NOT_HERE));
      return;
    }
    Handler accept = this::accept;
    if (config.apiKeys().isEmpty()) {
      rules.post(PATH, accept);
    } else {
      rules.post(PATH, new BearerAuth(config.apiKeys(), replies), accept);
    }
    rules.any(PATH, (req, res) -> replies.problem(res, POST_ONLY));
  }

  private void accept(ServerRequest req, ServerResponse res) {
    try {
      answer(res, admit(req));
    } catch (Rejected r) {
      replies.problem(res, r.problem());
    }
  }

  /** Checks, reads and parses the request, then offers its payloads to the queue. */
  private Admission admit(ServerRequest req) throws Rejected {
    admissionOpen();
    String idempotencyKey = idempotencyKey(req);
    boolean ndjson = ndjson(req);
    byte[] body = bodies.read(req);
    List<byte[]> payloads = parse(body, ndjson);
    return intake.admit(payloads, idempotencyKey); // a request the queue can never hold: 413
  }

  private void admissionOpen() throws Rejected {
    switch (state.phase()) {
      case STARTING -> throw new Rejected(new Problem.Starting());
      case SHUTTING_DOWN -> throw new Rejected(new Problem.ShuttingDown());
      case SERVING -> {}
    }
  }

  /** {@return the {@code Idempotency-Key}, or null without one} */
  private static String idempotencyKey(ServerRequest req) throws Rejected {
    String key = req.headers().first(IDEMPOTENCY_KEY).map(String::trim).orElse(null);
    if (key != null && !IDEMPOTENCY_KEY_SYNTAX.matcher(key).matches()) {
      throw new Rejected(new Problem.BadIdempotencyKey());
    }
    return key;
  }

  /** {@return whether the body is NDJSON (else a JSON envelope)} */
  private static boolean ndjson(ServerRequest req) throws Rejected {
    String type = req.headers().first(HeaderNames.CONTENT_TYPE).orElse("");
    int semi = type.indexOf(';');
    String mediaType = (semi < 0 ? type : type.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    return switch (mediaType) {
      case "application/json" -> false;
      case "application/x-ndjson" -> true;
      default -> throw new Rejected(new Problem.UnsupportedMediaType());
    };
  }

  private static List<byte[]> parse(byte[] body, boolean ndjson) throws Rejected {
    try {
      return ndjson ? PayloadParser.parseNdjson(body) : PayloadParser.parseEnvelope(body);
    } catch (PayloadParser.MalformedException e) {
      throw new Rejected(new Problem.Malformed(e.getMessage()));
    }
  }

  private void answer(ServerResponse res, Admission admission) {
    switch (admission) {
      case Admission.Admitted a -> {
        metrics.payloadsAccepted.increment(a.count());
        replies.json(res, 202, "{\"accepted\":" + a.count() + "}");
      }
      case Admission.Replayed r -> {
        res.header(IDEMPOTENT_REPLAYED, "true");
        replies.json(res, 202, "{\"accepted\":" + r.count() + ",\"replayed\":true}");
      }
      case Admission.Unavailable u ->
          replies.problem(res, new Problem.QueueUnavailable(u.retryAfterSeconds(), u.reason()));
      case Admission.WriteFailed w ->
          replies.problem(
              res,
              new Problem.StorageFailed(
                  w.cause() == Admission.WriteFailure.DISK_FULL,
                  "nothing was admitted: " + w.detail()));
      case Admission.TooLarge t -> replies.problem(res, new Problem.TooLarge(t.detail()));
      case Admission.QueueFull f ->
          replies.problem(res, new Problem.QueueFull(f.retryAfterSeconds()));
      case Admission.ShuttingDown s -> replies.problem(res, new Problem.ShuttingDown());
    }
  }
}
