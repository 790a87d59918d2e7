package io.millrace.ingest.testing;

import static io.millrace.ingest.testing.TestSupport.utf8;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Posts unique payloads ({@code {"id":"<prefix>-<n>","pad":"..."}}, about 100 bytes each) in
 * requests of {@code perRequest} payloads from several client threads to a list of ingest ports,
 * round robin; every other request carries an {@code Idempotency-Key}. A request is retried (same
 * body, same key if it has one, next port) after 429, 503, no answer or a connection error, with a
 * short backoff, until it is admitted (202); the ids of admitted requests are what "accepted"
 * means. Any other status is a failure. Every request must be admitted within {@code
 * requestDeadline}, else the load fails.
 *
 * <p>The load ends when {@code total} payloads are admitted, or earlier on {@link #stop()} (then
 * requests not yet started are not sent; the one each thread has in hand is still retried to the
 * end, so nothing is left half-known).
 */
public final class LoadClient implements AutoCloseable {
  private static final Pattern ACCEPTED = Pattern.compile("\"accepted\"\\s*:\\s*(\\d+)");
  private static final String PAD_CHARS =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

  private final List<Integer> ports;
  private final int threads;
  private final int perRequest;
  private final long total;
  private final String prefix;
  private final double payloadsPerSecond;
  private final Duration requestDeadline;

  private final Set<String> accepted = ConcurrentHashMap.newKeySet();
  private final AtomicInteger nextRequest = new AtomicInteger();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final ConcurrentHashMap<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
  private final LongAdder connectionErrors = new LongAdder();
  private final LongAdder unavailableWithRetryAfter = new LongAdder();
  private final LongAdder replayedRequests = new LongAdder();
  private final LongAdder admittedRequests = new LongAdder();
  private final AtomicLong last202 = new AtomicLong();
  private final AtomicLong last503 = new AtomicLong();
  private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
  private final List<Thread> workers = new ArrayList<>();
  private long startNanos;

  /**
   * @param ports ingest HTTP ports, used round robin
   * @param threads client threads
   * @param perRequest payloads per request
   * @param total payloads in all (the ids are {@code prefix-0 .. prefix-(total-1)})
   * @param prefix of every id, unique per run
   * @param payloadsPerSecond pace of request starts over all threads; 0 for as fast as admitted
   * @param requestDeadline how long one request may take to be admitted, retries included
   */
  public LoadClient(
      List<Integer> ports,
      int threads,
      int perRequest,
      long total,
      String prefix,
      double payloadsPerSecond,
      Duration requestDeadline) {
    this.ports = List.copyOf(ports);
    this.threads = threads;
    this.perRequest = perRequest;
    this.total = total;
    this.prefix = prefix;
    this.payloadsPerSecond = payloadsPerSecond;
    this.requestDeadline = requestDeadline;
  }

  /** {@return the id of payload n} */
  public String id(long n) {
    return prefix + "-" + n;
  }

  /**
   * {@return payload n exactly as sent: compact JSON, about 100 bytes, derived from its id alone}
   */
  public static String payload(String id) {
    StringBuilder pad = new StringBuilder(80);
    long h = (id.hashCode() | 1L) * 0x9E3779B97F4A7C15L;
    int len = Math.max(8, 84 - id.length());
    for (int i = 0; i < len; i++) {
      h ^= h << 13;
      h ^= h >>> 7;
      h ^= h << 17;
      pad.append(PAD_CHARS.charAt((int) Math.floorMod(h, PAD_CHARS.length())));
    }
    return "{\"id\":\"" + id + "\",\"pad\":\"" + pad + "\"}";
  }

  /** Starts the client threads; returns at once. */
  public LoadClient start() {
    startNanos = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      workers.add(Thread.ofPlatform().name("load-" + t).daemon().start(this::run));
    }
    return this;
  }

  private long requests() {
    return (total + perRequest - 1) / perRequest;
  }

  private void run() {
    try {
      while (!stop.get() && failures.isEmpty()) {
        int r = nextRequest.getAndIncrement();
        if (r >= requests()) {
          return;
        }
        if (payloadsPerSecond > 0) {
          long due = startNanos + (long) (r * (double) perRequest / payloadsPerSecond * 1e9);
          long wait = due - System.nanoTime();
          if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
          }
          if (stop.get()) {
            return;
          }
        }
        send(r);
      }
    } catch (Throwable t) {
      failures.add(t);
    }
  }

  private void send(int r) throws Exception {
    long first = (long) r * perRequest;
    long last = Math.min(total, first + perRequest);
    List<String> ids = new ArrayList<>((int) (last - first));
    StringBuilder body = new StringBuilder(perRequest * 110 + 16).append("{\"payloads\":[");
    for (long n = first; n < last; n++) {
      String id = id(n);
      ids.add(id);
      if (n > first) {
        body.append(',');
      }
      body.append(payload(id));
    }
    byte[] bytes = utf8(body.append("]}").toString());
    // every other request carries a key: keyed requests are published alone, the others share
    // messages (group commit), so both admission paths run under the load
    Map<String, String> headers =
        r % 2 == 1 ? Map.of("Idempotency-Key", prefix + "-r" + r) : Map.of();
    long deadline = System.nanoTime() + requestDeadline.toNanos();
    for (int attempt = 0; ; attempt++) {
      if (!failures.isEmpty() || closed.get()) {
        return; // another thread failed, or the test is over
      }
      int port = ports.get((r + attempt) % ports.size());
      RawHttp.Response resp;
      try {
        resp = RawHttp.post(port, "application/json", bytes, headers);
      } catch (IOException e) {
        resp = null;
        connectionErrors.increment();
      }
      int status = resp == null ? -1 : resp.status();
      statuses.computeIfAbsent(status, s -> new LongAdder()).increment();
      if (status == 202) {
        Matcher m = ACCEPTED.matcher(resp.text());
        if (!m.find() || Integer.parseInt(m.group(1)) != ids.size()) {
          throw new AssertionError(
              "request "
                  + r
                  + " to port "
                  + port
                  + ": 202 without \"accepted\":"
                  + ids.size()
                  + ": "
                  + resp.text());
        }
        if (resp.text().contains("\"replayed\":true")) {
          replayedRequests.increment();
        }
        accepted.addAll(ids);
        admittedRequests.increment();
        last202.set(System.nanoTime());
        return;
      }
      if (status == 503) {
        last503.set(System.nanoTime());
        if (resp.header("Retry-After") != null) {
          unavailableWithRetryAfter.increment();
        }
      } else if (status != 429 && status != -1) {
        throw new AssertionError("request " + r + " to port " + port + " answered " + resp);
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "request "
                + r
                + " not admitted within "
                + requestDeadline
                + " ("
                + (attempt + 1)
                + " attempts, last answer "
                + (resp == null ? "a connection error" : resp)
                + ")");
      }
      Thread.sleep(Math.min(200, 10L * (attempt + 1)) + ThreadLocalRandom.current().nextInt(10));
    }
  }

  /** Sends no new requests from now on; the ones in hand are still driven to admission. */
  public void stop() {
    stop.set(true);
  }

  /**
   * Waits until every client thread has ended.
   *
   * @param timeout at most this long
   * @throws AssertionError if a thread still runs after {@code timeout}, or the load failed
   */
  public void await(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Thread t : workers) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !t.join(Duration.ofNanos(left))) {
        stop();
        throw new AssertionError("the load did not end within " + timeout + "; " + summary());
      }
    }
    checkNoFailure();
  }

  /** Throws the first failure of any client thread, if there was one. */
  public void checkNoFailure() {
    Throwable f = failures.peek();
    if (f != null) {
      AssertionError e =
          new AssertionError("the load failed: " + f.getMessage() + "; " + summary(), f);
      failures.stream().skip(1).forEach(e::addSuppressed);
      throw e;
    }
  }

  /** {@return the ids admitted so far (a live view)} */
  public Set<String> accepted() {
    return accepted;
  }

  public long admittedRequests() {
    return admittedRequests.sum();
  }

  public long replayedRequests() {
    return replayedRequests.sum();
  }

  /** {@return how many answers had this status (-1: no answer or a connection error)} */
  public long count(int status) {
    LongAdder a = statuses.get(status);
    return a == null ? 0 : a.sum();
  }

  public long unavailableWithRetryAfter() {
    return unavailableWithRetryAfter.sum();
  }

  /** {@return System.nanoTime() of the latest 202, 0 if none yet} */
  public long last202Nanos() {
    return last202.get();
  }

  /** {@return System.nanoTime() of the latest 503, 0 if none yet} */
  public long last503Nanos() {
    return last503.get();
  }

  public String summary() {
    Map<Integer, Long> s = new java.util.TreeMap<>();
    statuses.forEach((k, v) -> s.put(k, v.sum()));
    return "accepted "
        + accepted.size()
        + " payloads in "
        + admittedRequests.sum()
        + " requests ("
        + replayedRequests.sum()
        + " replayed), answers by status "
        + s
        + ", connection errors "
        + connectionErrors.sum();
  }

  @Override
  public void close() {
    stop();
    closed.set(true); // retry loops end too
  }
}
