package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobIterator;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.Redelivery;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workers' side of the stream. One thread pulls from the durable consumer while this process
 * holds less than its {@link Budget} ({@code MAX_QUEUE} payloads, {@code MILLRACE_QUEUE_MAX_BYTES})
 * and turns each message into jobs. A message is acknowledged only when every job in it is
 * {@linkplain #ack stored}. While it is held here (waiting or uploading), a progress signal every
 * third of {@code AckWait} ({@link #beatIfDue}, on the keeper's thread) keeps it from being
 * redelivered; if this process dies, JetStream redelivers it after {@code AckWait}.
 *
 * <p>{@link #giveBack} gives a whole message back ({@link DeadLetters#settle}: later, with a
 * growing delay, or to the dead letters at the {@code MaxDeliver}-th delivery). A message delivered
 * more often than {@code MaxDeliver} (workers kept dying on it) is dead-lettered on arrival. {@link
 * #abandon} (the worker pipeline died) stops pulling and gives back everything held at once, so
 * healthy workers take it.
 *
 * <p>Thread-safe: the iterator is read by one worker source, acks and give-backs come from upload
 * threads; deliveries are guarded by one lock (then the budget's own).
 */
final class Deliveries implements JobSource, Redelivery {
  private static final Logger LOG = LoggerFactory.getLogger(Deliveries.class);
  private static final int MAX_PULL = 256;

  private final Config.Nats cfg;
  private final NatsLink link;
  private final Budget budget;
  private final DeadLetters deadLetters;
  private final Metrics metrics;
  private final long beatEveryNanos;
  private final AtomicBoolean iterated = new AtomicBoolean();
  private volatile boolean stopping; // no more pulls: closing, or abandoned
  private Thread fetcher;
  private long lastBeat = System.nanoTime(); // confined to the keeper thread

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  // guarded by lock
  private final ArrayDeque<Job> waiting = new ArrayDeque<>();
  private final LinkedHashSet<Delivery> held = new LinkedHashSet<>();
  private boolean fetchEnded;
  private boolean abandoned;
  private long avgMessageBytes = 4096;
  private long avgMessagePayloads = 4;

  Deliveries(
      Config.Nats cfg, NatsLink link, Budget budget, DeadLetters deadLetters, Metrics metrics) {
    this.cfg = cfg;
    this.link = link;
    this.budget = budget;
    this.deadLetters = deadLetters;
    this.metrics = metrics;
    this.beatEveryNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(500, cfg.ackWaitMs() / 3));
  }

  void start() {
    fetcher = Thread.ofVirtual().name("millrace-nats-fetch").start(this::fetchLoop);
  }

  // ------------------------------------------------------------------ pulling

  private void fetchLoop() {
    try {
      while (!stopping) {
        LinkState s = link.state();
        JetStreamSubscription sub = s.sub();
        if (!NatsLink.usable(s) || sub == null) {
          Thread.sleep(200);
          continue;
        }
        if (!budget.awaitRoom(200, TimeUnit.MILLISECONDS)) {
          continue; // still full: look at stopping again
        }
        int want;
        lock.lock();
        try { // what fits the budget, by the recent message sizes
          want = budget.roomFor(avgMessagePayloads, avgMessageBytes, MAX_PULL);
        } finally {
          lock.unlock();
        }
        try {
          Iterator<Message> it = sub.iterate(want, Duration.ofMillis(500));
          while (it.hasNext()) {
            Message m = it.next();
            if (m.isJetStream()) {
              accept(m);
            }
          }
        } catch (IllegalStateException e) {
          Thread.sleep(200); // the connection went away mid-pull: wait for it
        } catch (RuntimeException e) {
          // the consumer or stream went away, or the server answered oddly: set them up again
          link.broken(s, "pulling from JetStream failed: " + e);
          Thread.sleep(500);
        }
      }
    } catch (InterruptedException e) {
      // closing
    } finally {
      lock.lock();
      try {
        fetchEnded = true;
        notEmpty.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  private void accept(Message m) {
    long delivered = m.metaData().deliveredCount();
    if (delivered > 1) {
      metrics.natsRedelivered.increment();
    }
    Delivery d = new Delivery(this, m, delivered);
    try {
      d.jobs = Codec.decode(m, () -> new Delivery.Held(d));
    } catch (IllegalArgumentException e) {
      deadLetters.settle(d, e);
      return;
    }
    d.pending = d.jobs.size();
    if (delivered > cfg.maxDeliver()) {
      deadLetters.deadLetter(
          d,
          "delivered "
              + delivered
              + " times, more than MILLRACE_NATS_MAX_DELIVER="
              + cfg.maxDeliver()
              + " (workers holding it may have died on it)");
      return;
    }
    if (d.jobs.isEmpty()) {
      m.ack();
      return;
    }
    long size = 0;
    for (Job j : d.jobs) {
      size += j.payload().length;
    }
    lock.lock();
    try {
      if (abandoned) {
        d.settled = true;
      } else {
        held.add(d);
        waiting.addAll(d.jobs);
        budget.take(d.jobs.size(), size);
        avgMessageBytes = (avgMessageBytes * 7 + size) / 8;
        avgMessagePayloads = Math.max(1, (avgMessagePayloads * 7 + d.jobs.size()) / 8);
        notEmpty.signalAll();
      }
    } finally {
      lock.unlock();
    }
    if (d.settled) {
      deadLetters.settle(d, null); // pulled as the pipeline died: straight back
    }
  }

  // ------------------------------------------------------------------ JobSource

  @Override
  public Iterator<Job> jobs() {
    return JobIterator.once(iterated, this::take);
  }

  private Job take() throws InterruptedException {
    lock.lock();
    try {
      while (!abandoned) {
        Job j = waiting.pollFirst();
        if (j != null) {
          if (((Delivery.Held) j.receipt()).acked) {
            continue; // its message was given back while it waited
          }
          return j;
        }
        if (fetchEnded) {
          return null;
        }
        notEmpty.await();
      }
      return null;
    } finally {
      lock.unlock();
    }
  }

  private Delivery.Held heldOf(Job j) {
    if (!(j.receipt() instanceof Delivery.Held h) || h.delivery.owner != this) {
      throw new IllegalArgumentException("not a job of this queue: " + j);
    }
    return h;
  }

  @Override
  public void ack(Collection<Job> stored) {
    List<Delivery> done = new ArrayList<>();
    lock.lock();
    try {
      long n = 0;
      long size = 0;
      for (Job j : stored) {
        Delivery.Held h = heldOf(j);
        if (h.acked) {
          continue;
        }
        h.acked = true;
        n++;
        size += j.payload().length;
        Delivery d = h.delivery;
        if (!d.settled && --d.pending == 0) {
          d.settled = true;
          held.remove(d);
          done.add(d);
        }
      }
      budget.release(n, size);
    } finally {
      lock.unlock();
    }
    for (Delivery d : done) {
      try {
        d.msg.ack();
      } catch (RuntimeException e) {
        // not connected: JetStream redelivers it after AckWait and it is stored again (a duplicate)
        metrics.natsAckFailures.increment();
      }
    }
  }

  @Override
  public Optional<Redelivery> redelivery() {
    return Optional.of(this);
  }

  @Override
  public void giveBack(Collection<Job> jobs, Throwable cause) {
    List<Delivery> given = new ArrayList<>();
    lock.lock();
    try {
      long n = 0;
      long size = 0;
      for (Job j : jobs) {
        Delivery d = heldOf(j).delivery;
        if (d.settled) {
          continue;
        }
        d.settled = true;
        held.remove(d);
        given.add(d);
        for (Job k : d.jobs) {
          Delivery.Held h = (Delivery.Held) k.receipt();
          if (!h.acked) {
            h.acked = true;
            n++;
            size += k.payload().length;
          }
        }
      }
      budget.release(n, size);
    } finally {
      lock.unlock();
    }
    for (Delivery d : given) {
      deadLetters.settle(d, cause);
    }
  }

  @Override
  public List<Job> unacknowledged() {
    lock.lock();
    try {
      List<Job> all = new ArrayList<>();
      for (Delivery d : held) {
        for (Job j : d.jobs) {
          if (!((Delivery.Held) j.receipt()).acked) {
            all.add(j);
          }
        }
      }
      return all;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Stops pulling and waits for the pull in progress (so that nothing arrives after), then gives
   * everything held back at once (not as failed), for the other workers.
   */
  @Override
  public Handover handOver(List<List<Job>> formedBatches) {
    try {
      close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<Job> left = unacknowledged();
    if (!left.isEmpty()) {
      giveBack(left, null);
    }
    return new Handover.GivenBack(left.size());
  }

  @Override
  public void abandon(Throwable cause) {
    stopPulling();
    lock.lock();
    try {
      abandoned = true;
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
    List<Job> left = unacknowledged();
    LOG.warn(
        "the worker pipeline died; {} payloads go back to JetStream for the other workers",
        left.size());
    giveBack(left, cause);
  }

  /**
   * Sends a progress signal for every message held here, if a third of {@code AckWait} has passed
   * since the last round. Called by the keeper thread only.
   */
  void beatIfDue() {
    if (System.nanoTime() - lastBeat < beatEveryNanos) {
      return;
    }
    lastBeat = System.nanoTime();
    Delivery[] snapshot;
    lock.lock();
    try {
      snapshot = held.toArray(new Delivery[0]);
    } finally {
      lock.unlock();
    }
    for (Delivery d : snapshot) {
      try {
        d.msg.inProgress();
      } catch (RuntimeException e) {
        return; // disconnected: the next round tries again; redelivery is a duplicate, not a loss
      }
    }
  }

  /** Stops pulling; the iteration ends once what was pulled is handed out. */
  void stopPulling() {
    stopping = true;
    budget.wakeAll();
  }

  /** {@return whether the pull thread has ended (or never started)} */
  boolean stopped() {
    Thread t = fetcher;
    return t == null || !t.isAlive();
  }

  /**
   * Stops pulling and waits for the pull thread (5 s). Jobs still held are not given back here:
   * {@link #handOver} does that, or JetStream redelivers them after {@code AckWait}.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  void close() throws InterruptedException {
    stopPulling();
    Thread t = fetcher;
    if (t != null) {
      t.join(Duration.ofSeconds(5));
    }
  }
}
