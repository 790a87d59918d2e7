package io.millrace.ingest.testing;

import static io.millrace.ingest.testing.TestSupport.utf8;

import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load for crash tests, with exact accounting of what each request's outcome says about its
 * payloads. Client threads post requests of {@code perRequest} unique payloads ({@link
 * LoadClient#payload}, ids {@code <prefix>-<n>}) to whatever port {@code port} names at the time,
 * with no {@code Idempotency-Key} (unless {@code resendWithKey}). Each request ends in exactly one
 * of three ways:
 *
 * <ul>
 *   <li><b>accepted</b>: a 202 with {@code "accepted": perRequest}. Its ids must be stored.
 *   <li><b>ambiguous</b>: the request was sent and the connection ended without an answer (the
 *       service was killed mid-request): it may or may not have been admitted, so its ids may be
 *       stored once or not at all, never twice. It is not sent again (a resend would store an
 *       admitted request twice and blame the service for the client's duplicate).
 *   <li>retried with the same body: the answer said nothing was admitted (429, 503: admission is
 *       all or nothing), or the connection was refused (the service is down or restarting).
 * </ul>
 *
 * With {@code resendWithKey}, every request carries an {@code Idempotency-Key} of its own, and a
 * request cut off without an answer is sent again with the same body and key, as a careful client
 * would, until it gets a definite answer: then nothing is ambiguous, and an id stored twice means
 * the key was not honoured (for example forgotten across a restart).
 *
 * <p>Any other answer is a failure of the load. The load runs until {@link #stop()}; then each
 * thread finishes the request in hand (to one of the two ends) and ends.
 */
public final class CrashLoad implements AutoCloseable {
  private static final Pattern ACCEPTED = Pattern.compile("\"accepted\"\\s*:\\s*(\\d+)");

  private final IntSupplier port;
  private final int threads;
  private final int perRequest;
  private final String prefix;
  private final Duration requestDeadline;
  private final boolean resendWithKey;
  private final Set<String> accepted = ConcurrentHashMap.newKeySet();
  private final Set<String> ambiguous = ConcurrentHashMap.newKeySet();
  private final AtomicLong nextId = new AtomicLong();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final ConcurrentHashMap<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
  private final LongAdder refused = new LongAdder();
  private final LongAdder resent = new LongAdder();
  private final LongAdder replayed = new LongAdder();
  private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
  private final List<Thread> workers = new ArrayList<>();

  /**
   * @param port the service's current HTTP port (it may change between restarts)
   * @param threads client threads
   * @param perRequest payloads per request
   * @param prefix of every id, unique per test run
   * @param requestDeadline how long one request may be retried before the load fails
   * @param resendWithKey whether requests carry an {@code Idempotency-Key} and are sent again with
   *     it after no answer
   */
  public CrashLoad(
      IntSupplier port,
      int threads,
      int perRequest,
      String prefix,
      Duration requestDeadline,
      boolean resendWithKey) {
    this.resendWithKey = resendWithKey;
    this.port = port;
    this.threads = threads;
    this.perRequest = perRequest;
    this.prefix = prefix;
    this.requestDeadline = requestDeadline;
  }

  /** Starts the client threads; returns at once. */
  public CrashLoad start() {
    for (int t = 0; t < threads; t++) {
      workers.add(Thread.ofPlatform().name("crash-load-" + t).daemon().start(this::run));
    }
    return this;
  }

  private void run() {
    try {
      while (!stop.get() && failures.isEmpty()) {
        long first = nextId.getAndAdd(perRequest);
        List<String> ids = new ArrayList<>(perRequest);
        StringBuilder body = new StringBuilder(perRequest * 110 + 16).append("{\"payloads\":[");
        for (int i = 0; i < perRequest; i++) {
          String id = prefix + "-" + (first + i);
          ids.add(id);
          body.append(i == 0 ? "" : ",").append(LoadClient.payload(id));
        }
        send(ids, utf8(body.append("]}").toString()), prefix + "-k" + first);
      }
    } catch (Throwable t) {
      failures.add(t);
    }
  }

  private void send(List<String> ids, byte[] body, String key) throws Exception {
    Map<String, String> headers = resendWithKey ? Map.of("Idempotency-Key", key) : Map.of();
    long deadline = System.nanoTime() + requestDeadline.toNanos();
    for (int attempt = 0; ; attempt++) {
      if (closed.get()) {
        ambiguous.addAll(ids); // abandoned: if an earlier attempt was admitted, it may be stored
        return;
      }
      int p = port.getAsInt();
      RawHttp.Response resp;
      try {
        resp = RawHttp.post(p, "application/json", body, headers);
      } catch (ConnectException e) {
        refused.increment(); // never reached a listener: nothing admitted
        resp = null;
      } catch (IOException e) {
        resp = new RawHttp.Response(-1, Map.of(), new byte[0]);
      }
      if (resp != null) {
        count(resp.status());
        if (resp.status() == -1) {
          if (!resendWithKey) {
            ambiguous.addAll(ids);
            return;
          }
          resent.increment(); // no answer: the same body with the same key again
        }
        if (resp.status() == 202) {
          Matcher m = ACCEPTED.matcher(resp.text());
          if (!m.find() || Integer.parseInt(m.group(1)) != ids.size()) {
            throw new AssertionError("202 without \"accepted\":" + ids.size() + ": " + resp);
          }
          if (resp.text().contains("\"replayed\":true")) {
            replayed.increment();
          }
          accepted.addAll(ids);
          return;
        }
        if (resp.status() != 429 && resp.status() != 503 && resp.status() != -1) {
          throw new AssertionError("port " + p + " answered " + resp);
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "a request was not admitted within "
                + requestDeadline
                + " ("
                + (attempt + 1)
                + " attempts, last answer "
                + (resp == null ? "connection refused" : resp)
                + ")");
      }
      Thread.sleep(Math.min(100, 5L * (attempt + 1)) + ThreadLocalRandom.current().nextInt(5));
    }
  }

  private void count(int status) {
    statuses.computeIfAbsent(status, s -> new LongAdder()).increment();
  }

  /** Starts no new request from now on. */
  public void stop() {
    stop.set(true);
  }

  /**
   * Stops the load and waits until every client thread has ended.
   *
   * @param timeout at most this long
   * @throws AssertionError if a thread still runs after {@code timeout}, or the load failed
   */
  public void stopAndAwait(Duration timeout) throws InterruptedException {
    stop();
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Thread t : workers) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !t.join(Duration.ofNanos(left))) {
        throw new AssertionError("the load did not end within " + timeout + "; " + summary());
      }
    }
    checkNoFailure();
  }

  /** Throws the first failure of any client thread, if there was one. */
  public void checkNoFailure() {
    Throwable f = failures.peek();
    if (f != null) {
      throw new AssertionError("the load failed: " + f.getMessage() + "; " + summary(), f);
    }
  }

  /** {@return the ids answered 202 so far (a live view)} */
  public Set<String> accepted() {
    return accepted;
  }

  /** {@return the ids of requests whose connection ended without an answer (a live view)} */
  public Set<String> ambiguous() {
    return ambiguous;
  }

  public String summary() {
    Map<Integer, Long> s = new TreeMap<>();
    statuses.forEach((k, v) -> s.put(k, v.sum()));
    return "accepted "
        + accepted.size()
        + " payloads, ambiguous (no answer) "
        + ambiguous.size()
        + ", answers by status "
        + s
        + ", connections refused "
        + refused.sum()
        + (resendWithKey
            ? ", resent with their key after no answer "
                + resent.sum()
                + ", 202s saying replayed "
                + replayed.sum()
            : "");
  }

  @Override
  public void close() {
    stop();
    closed.set(true);
  }
}
