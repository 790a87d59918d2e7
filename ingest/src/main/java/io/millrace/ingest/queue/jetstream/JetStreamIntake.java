package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.AdmissionGate;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.Intake;
import io.nats.client.PublishOptions;
import io.nats.client.api.PublishAck;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Admission to the work-queue stream: a request's payloads travel in one message (all or nothing),
 * and {@link #admit} returns only after JetStream acknowledged the publish (it is stored,
 * replicated as configured). A request without an {@code Idempotency-Key} goes through {@link
 * GroupCommit}; one with a key is published alone with the key as {@code Nats-Msg-Id}, so a repeat
 * within the stream's duplicate window is not stored again and answers {@link Admission.Replayed}.
 *
 * <p>A request that waited for its turn longer than the publish timeout is withdrawn before it is
 * sent, so a request answered 503 is never published afterwards; only one already handed to the
 * broker may land after all (its answer says so). The {@link AdmissionGate} makes closing and
 * entering one atomic step, so {@link #awaitIdle} waits for every request that got in.
 *
 * <p>Thread-safe: called from many request threads at once.
 */
final class JetStreamIntake implements Intake {
  private final Config.Nats cfg;
  private final NatsLink link;
  private final Codec codec;
  private final GroupCommit groups;
  private final Budget budget;
  private final Metrics metrics;
  private final AdmissionGate gate = new AdmissionGate();

  JetStreamIntake(
      Config.Nats cfg,
      NatsLink link,
      Codec codec,
      GroupCommit groups,
      Budget budget,
      Metrics metrics) {
    this.cfg = cfg;
    this.link = link;
    this.codec = codec;
    this.groups = groups;
    this.budget = budget;
    this.metrics = metrics;
  }

  @Override
  public Admission admit(List<byte[]> batch, String idempotencyKey) {
    int n = batch.size();
    String tooLarge = budget.tooLarge(n, Budget.sizeOf(batch));
    if (tooLarge != null) {
      return new Admission.TooLarge(tooLarge);
    }
    if (!gate.tryEnter()) {
      return new Admission.ShuttingDown();
    }
    try {
      if (n == 0) {
        return new Admission.Admitted(0);
      }
      LinkState s = link.state();
      String reason = NatsLink.notReadyReason(s);
      if (reason != null) {
        metrics.natsPublishFailures.increment();
        return new Admission.Unavailable(2, reason);
      }
      int size = Codec.bodySize(batch);
      long limit = s.connection().getMaxPayload() - 512; // room for the headers
      if (size > limit) {
        return new Admission.TooLarge(
            "the request's payloads take "
                + size
                + " bytes; one NATS message"
                + " holds at most "
                + limit
                + " (the server's max_payload less headers)");
      }
      return idempotencyKey != null
          ? publishAlone(s, batch, size, idempotencyKey) // its Nats-Msg-Id names this request only
          : publishGrouped(s, batch, size);
    } finally {
      gate.exit();
    }
  }

  private Admission publishGrouped(LinkState s, List<byte[]> batch, int size) {
    GroupCommit.Pending p = groups.submit(batch, size);
    try {
      return p.result.get(cfg.publishTimeoutMs(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      return failed(s, e.getCause(), false);
    } catch (TimeoutException e) {
      return late(s, p, null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return late(s, p, "interrupted while waiting for JetStream");
    }
  }

  /**
   * No answer in time: withdraws the request if it is still waiting (then it is never sent), else
   * takes the answer if it came just now, else says that it may still land.
   *
   * @param interrupted the answer's text when the wait was interrupted, or null after a timeout
   */
  private Admission late(LinkState s, GroupCommit.Pending p, String interrupted) {
    boolean withdrawn = groups.withdraw(p);
    if (!withdrawn && p.result.isDone()) {
      try {
        return p.result.join();
      } catch (CompletionException | CancellationException e) {
        return failed(s, e, false);
      }
    }
    metrics.natsPublishFailures.increment();
    if (interrupted != null) {
      return new Admission.Unavailable(2, interrupted);
    }
    return withdrawn
        ? PublishErrors.notSent(cfg.publishTimeoutMs())
        : PublishErrors.timedOut(cfg.publishTimeoutMs(), false);
  }

  private Admission publishAlone(LinkState s, List<byte[]> batch, int size, String key) {
    int n = batch.size();
    PublishOptions po =
        PublishOptions.builder().expectedStream(cfg.stream()).messageId(key).build();
    try {
      CompletableFuture<PublishAck> f =
          s.js().publishAsync(codec.encode(List.of(batch), size, n), po);
      PublishAck ack;
      try {
        ack = f.get(cfg.publishTimeoutMs(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        f.cancel(false);
        metrics.natsPublishFailures.increment();
        return PublishErrors.timedOut(cfg.publishTimeoutMs(), true);
      } catch (ExecutionException e) {
        return failed(s, e.getCause(), true);
      }
      if (ack.isDuplicate()) {
        metrics.natsReplayed.increment();
        return new Admission.Replayed(n);
      }
      return new Admission.Admitted(n);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      metrics.natsPublishFailures.increment();
      return new Admission.Unavailable(2, "interrupted while waiting for JetStream");
    } catch (RuntimeException e) {
      return failed(s, e, true); // disconnected between the check and the publish, ...
    }
  }

  private Admission failed(LinkState seen, Throwable cause, boolean keyed) {
    metrics.natsPublishFailures.increment();
    String gone = PublishErrors.streamGone(cause, cfg.stream());
    if (gone != null) {
      link.broken(seen, gone);
    }
    return PublishErrors.answer(cause, cfg.publishTimeoutMs(), keyed);
  }

  @Override
  public void closeAdmission() {
    gate.close();
  }

  @Override
  public String notReadyReason() {
    return link.notReadyReason();
  }

  /**
   * After {@link #closeAdmission}, waits until every request that got in has its answer, at most
   * the publish timeout (each one's own bound).
   *
   * @throws InterruptedException if interrupted while waiting
   */
  void awaitIdle() throws InterruptedException {
    gate.awaitEmpty(cfg.publishTimeoutMs(), TimeUnit.MILLISECONDS);
  }
}
