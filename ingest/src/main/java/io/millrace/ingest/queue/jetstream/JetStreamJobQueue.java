package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.Intake;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.JobSource;
import io.nats.client.PublishOptions;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * The durable queue: a NATS JetStream work-queue stream shared by any number of ingest and worker
 * processes. This class only wires the parts for the role and closes them in order:
 *
 * <ul>
 *   <li>{@link NatsLink}: the connection, its keeper thread and the one immutable {@link
 *       LinkState};
 *   <li>{@link Topology}: the stream, its dead-letter stream and the durable pull consumer, created
 *       if missing;
 *   <li>{@link Codec}: the wire format (one message per request or group of requests);
 *   <li>{@link JetStreamIntake} and {@link GroupCommit} (a role that admits): publishing, each
 *       request acknowledged by JetStream before it is answered; {@link PublishErrors} says what a
 *       failure means;
 *   <li>{@link Deliveries} (a role that stores): the pull loop, the budget, ack tracking and
 *       progress signals; {@link DeadLetters} for what goes back.
 * </ul>
 *
 * <p>The connection reconnects by itself; while it is down, admission answers {@code Unavailable}
 * and {@link #notReadyReason()} says why. Thread-safe.
 */
public final class JetStreamJobQueue implements JobQueue {
  private final Budget budget;
  private final NatsLink link;
  private final JetStreamIntake intake; // null unless the role admits
  private final GroupCommit groups; // null unless the role admits
  private final Deliveries deliveries; // null unless the role stores
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Connects (in the background if no server answers yet) and starts the threads the role needs.
   *
   * @param config the service's configuration; {@link Config#nats()}, the role and the budget
   * @param metrics where counters go
   * @param runId prefix of every request id this process assigns (unique per process start)
   * @param clock epoch milliseconds, for the admission time
   * @throws IOException if the connection cannot even be set up (bad URL)
   * @throws InterruptedException if interrupted while connecting
   */
  public JetStreamJobQueue(Config config, Metrics metrics, String runId, LongSupplier clock)
      throws IOException, InterruptedException {
    Config.Nats cfg = config.nats();
    Config.Role role = config.roleKind();
    this.budget = new Budget(config.maxQueue(), config.queueMaxBytes());
    this.link =
        new NatsLink(
            cfg, "millrace-" + role.configName() + "-" + runId, new Topology(cfg, role.stores()));
    if (role.admits()) {
      Codec codec = new Codec(cfg.subject(), runId, clock);
      PublishOptions plain = PublishOptions.builder().expectedStream(cfg.stream()).build();
      this.groups = new GroupCommit(link, codec, plain, cfg.publishTimeoutMs());
      this.intake = new JetStreamIntake(cfg, link, codec, groups, budget, metrics);
    } else {
      this.groups = null;
      this.intake = null;
    }
    this.deliveries =
        role.stores()
            ? new Deliveries(cfg, link, budget, new DeadLetters(cfg, link, metrics), metrics)
            : null;
    link.start(deliveries == null ? () -> {} : deliveries::beatIfDue);
    if (deliveries != null) {
      deliveries.start();
    }
    if (groups != null) {
      groups.start();
    }
  }

  @Override
  public Optional<Intake> intake() {
    return Optional.ofNullable(intake);
  }

  @Override
  public Optional<JobSource> source() {
    return Optional.ofNullable(deliveries);
  }

  /** {@return what this worker pulled and has not stored yet (empty on an ingest node)} */
  @Override
  public Budget budget() {
    return budget;
  }

  @Override
  public String notReadyReason() {
    return link.notReadyReason();
  }

  /**
   * Stops taking in: admission answers {@code ShuttingDown} and nothing more is pulled; the jobs
   * iteration ends once what was pulled is handed out.
   */
  @Override
  public void closeAdmission() {
    if (intake != null) {
      intake.closeAdmission();
    }
    if (deliveries != null) {
      deliveries.stopPulling();
    }
  }

  /** {@return whether this queue's threads have ended and its connection is closed (tests)} */
  boolean stopped() {
    return link.stopped()
        && (deliveries == null || deliveries.stopped())
        && (groups == null || groups.stopped());
  }

  /**
   * Stops admission and pulling, waits for requests inside admission (up to the publish timeout)
   * and the pull thread, lets the publisher finish, flushes acknowledgements and closes the
   * connection. Jobs still held are not given back here: {@link JobSource#handOver} does that, or
   * JetStream redelivers them after {@code AckWait}. Keeps waiting after an interrupt, then sets
   * the flag again.
   */
  @Override
  public void close() {
    closeAdmission();
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    boolean interrupted = false;
    try {
      if (intake != null) {
        intake.awaitIdle();
      }
    } catch (InterruptedException e) {
      interrupted = true;
    }
    try {
      if (deliveries != null) {
        deliveries.close();
      }
    } catch (InterruptedException e) {
      interrupted = true;
    }
    if (groups != null) {
      groups.close();
    }
    link.close();
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
