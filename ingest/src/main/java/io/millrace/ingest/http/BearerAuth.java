package io.millrace.ingest.http;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A filter in front of a route: passes the request on ({@code res.next()}) if it carries {@code
 * Authorization: Bearer <key>} with one of the configured keys, else answers 401. Keys are kept as
 * SHA-256 digests and every one is compared in constant time, so neither the keys nor their lengths
 * leak through timing. Immutable and thread-safe.
 *
 * <p>It guards a route, not the whole server: the probes are never behind it, and a request the
 * route would refuse anyway (another method, a node that admits nothing) keeps its 405 or 404.
 */
final class BearerAuth implements Handler {
  private static final Problem UNAUTHORIZED = new Problem.Unauthorized();

  private final List<byte[]> keyDigests = new ArrayList<>();
  private final Replies replies;

  /**
   * @param keys the accepted keys, at least one
   * @param replies where a 401 goes
   */
  BearerAuth(List<String> keys, Replies replies) {
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("no keys: nothing to guard with");
    }
    for (String k : keys) {
      keyDigests.add(sha256(k.getBytes(StandardCharsets.US_ASCII)));
    }
    this.replies = replies;
  }

  @Override
  public void handle(ServerRequest req, ServerResponse res) {
    if (authorized(req)) {
      res.next();
    } else {
      replies.problem(res, UNAUTHORIZED);
    }
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
}
