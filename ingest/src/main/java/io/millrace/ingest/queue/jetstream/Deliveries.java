package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobIterator;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.Redelivery;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.api.MessageInfo;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
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
  private final Map<Long, Delivery> bySeq = new HashMap<>(); // the held ones, by stream sequence
  // the messages settled here lately, by Delivery.message(): ACKED, or the delivery count they were
  // given back at; to know a late copy of one of them
  private final Map<String, Long> settledLately =
      new java.util.LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
          return size() > SETTLED_REMEMBERED;
        }
      };
  private static final Long ACKED = -1L;
  private static final int SETTLED_REMEMBERED = 16_384;
  private final ArrayDeque<FixedBatch> rebuilt = new ArrayDeque<>(); // ready to be stored
  private final Set<String> rebuilding = new HashSet<>(); // batch names being rebuilt
  private final Set<String> rebuildAgain = new HashSet<>(); // asked for while being rebuilt
  private final AtomicBoolean rebuiltIterated = new AtomicBoolean();
  private volatile Ledger ledger; // made once the link is first ready (the connection is kept)
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

  /**
   * Takes one pulled message in: its jobs join the waiting line — unless its payloads are here
   * already, or were: handing them out again would put them in two batches. A message held here
   * that comes again (nats-server before 2.9.23 at times hands one delivery to two pull requests,
   * nats-io/nats-server#4460; or it was redelivered while held) is dropped: the delivery held here
   * answers for it, acks and naks going by stream sequence. One acknowledged here lately that comes
   * again is acknowledged again and dropped (the ack was lost). One given back here lately that
   * comes again with the same delivery count is a copy of that delivery and dropped. One that comes
   * again with a higher count was redelivered (see {@link #supersede}).
   */
  void accept(Message m) {
    long delivered = m.metaData().deliveredCount();
    if (delivered > 1) {
      metrics.natsRedelivered.increment();
    }
    Delivery d = new Delivery(this, m, delivered);
    try {
      d.jobs = Codec.decode(m, i -> new Delivery.Held(d, i));
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
    // delivered before: some of its payloads may be in a batch fixed by a worker that died (or
    // froze); those are stored by rebuilding that very batch, never in a new one
    Set<String> claimedBy = delivered > 1 ? claimedBatches(d) : Set.of();
    boolean twice = false;
    boolean ackAgain = false;
    lock.lock();
    try {
      Delivery same = bySeq.get(d.seq);
      Long settledAs = settledLately.get(d.message());
      if (abandoned) {
        d.settled = true;
      } else if (same != null && !same.settled && same.message().equals(d.message())) {
        twice = true; // held here: the delivery held answers for it (acks go by stream sequence)
      } else if (ACKED.equals(settledAs)) {
        ackAgain = true; // stored and acknowledged here: that ack was lost, or this is a copy
      } else if (settledAs != null && settledAs == delivered) {
        twice = true; // given back here, and this is a copy of that delivery, not the redelivery
      } else {
        held.add(d);
        Delivery older = bySeq.put(d.seq, d);
        if (older != null && !older.settled) {
          supersede(older);
        }
        for (Job j : d.jobs) {
          if (!((Delivery.Held) j.receipt()).rebuilding) {
            waiting.add(j);
          }
        }
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
      return;
    }
    if (ackAgain) {
      LOG.info(
          "message {} came again (delivery {}) after it was stored; acknowledged again",
          d.sequence(),
          delivered);
      try {
        m.ack();
      } catch (RuntimeException e) {
        metrics.natsAckFailures.increment();
      }
      return;
    }
    if (twice) {
      LOG.info(
          "message {} was handed to this worker twice (delivery {}); the second is dropped",
          d.sequence(),
          delivered);
      return;
    }
    for (String name : claimedBy) {
      scheduleRebuild(name);
    }
  }

  /**
   * A message held here was delivered here again (its progress signals did not get through): the
   * older delivery is forgotten without an ack — its payloads already in a fixed batch are found
   * through the ledger by the new one, the others are batched from the new one. Lock held.
   */
  private void supersede(Delivery older) {
    older.settled = true;
    older.superseded = true;
    held.remove(older);
    long n = 0;
    long size = 0;
    for (Job j : older.jobs) {
      Delivery.Held h = (Delivery.Held) j.receipt();
      if (!h.acked) {
        h.acked = true;
        n++;
        size += j.payload().length;
      }
    }
    budget.release(n, size);
  }

  /**
   * Looks the message's payloads up in the ledger and marks those claimed by a batch as {@code
   * rebuilding} (before the delivery is shared); if the ledger cannot be read, none are marked: a
   * new batch of them then finds the claims when it is fixed.
   *
   * @return the batches that claimed some of them
   */
  private Set<String> claimedBatches(Delivery d) {
    if (cfg.ledgerTtlMs() <= 0) {
      return Set.of();
    }
    List<Ledger.Claim> claims;
    try {
      claims = ledger().claimsOn(d.seq);
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      LOG.debug("reading the ledger for message {}: {}", d.seq, e.toString());
      return Set.of();
    }
    Set<String> names = new LinkedHashSet<>();
    for (Ledger.Claim c : claims) {
      for (int i = c.part().from(); i < c.part().to() && i < d.jobs.size(); i++) {
        ((Delivery.Held) d.jobs.get(i).receipt()).rebuilding = true;
      }
      names.add(c.batch());
    }
    return names;
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
          Delivery.Held h = (Delivery.Held) j.receipt();
          if (h.acked || h.rebuilding) {
            continue; // its message was given back while it waited, or it is in a rebuilt batch
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

  /**
   * A batch was stored whole. A recoverable batch is first {@linkplain Ledger#markStored recorded
   * stored} in the ledger, before any of its messages is acknowledged: a message of it may still
   * come back (an ack lost with the connection or the process, several messages redelivered in
   * several pulls), and the rebuild that starts must find the batch stored, not store what is left
   * of it under the same key — that would overwrite the object with a subset and lose the rest. If
   * the ledger cannot be written the messages are given back instead of acknowledged: redelivered,
   * the batch is rebuilt whole and stored again under its key (the same bytes), nothing lost.
   */
  @Override
  public void ack(FixedBatch stored) {
    if (stored.recoverable()) {
      try {
        ledger().markStored(stored.name());
      } catch (IOException | JetStreamApiException | RuntimeException e) {
        LOG.warn(
            "recording batch {} stored in the ledger failed ({}); its messages go back to"
                + " JetStream to be stored again whole",
            stored.name(),
            e.toString());
        giveBack(stored.jobs(), e);
        return;
      }
    }
    ack(stored.jobs());
  }

  @Override
  public void ack(Collection<Job> stored) {
    List<Delivery> done = new ArrayList<>();
    lock.lock();
    try {
      long n = 0;
      long size = 0;
      for (Job j : stored) {
        if (j.receipt() instanceof Delivery.Foreign) {
          continue; // read back by sequence; its message is acknowledged by whoever holds it
        }
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
          bySeq.remove(d.seq, d);
          settledLately.put(d.message(), ACKED);
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

  // ------------------------------------------------------------------ exactly-once: the ledger

  /** {@return the ledger, made on first use once the link is usable} */
  private Ledger ledger() throws IOException {
    Ledger l = ledger;
    if (l != null) {
      return l;
    }
    LinkState s = link.state();
    if (!NatsLink.usable(s)) {
      throw new IOException("NATS is not ready: " + NatsLink.notReadyReason(s));
    }
    Connection c = s.connection();
    l =
        new Ledger(
            c.keyValue(cfg.ledgerBucket()),
            () -> {
              try {
                return c.jetStreamManagement()
                    .getStreamInfo(cfg.stream())
                    .getStreamState()
                    .getFirstSequence();
              } catch (IOException | JetStreamApiException e) {
                throw new IllegalStateException("reading the stream's first sequence: " + e, e);
              }
            });
    ledger = l;
    return l;
  }

  /**
   * Fixes a batch in the ledger before it is uploaded ({@link Ledger}): its intent (its parts, by
   * stream sequence and payload index) is recorded under its name, then each part is claimed. The
   * returned batch holds the jobs whose parts it claimed; a job whose payload another batch claimed
   * first (a worker that froze or died holding its message) is left out, and that batch is rebuilt
   * here and comes out of {@link #rebuilt()}. Jobs of a delivery superseded since they were handed
   * out (the message was delivered here again) are left out too: the newer delivery carries them.
   * Null when no job is left.
   *
   * <p>Without a ledger ({@code MILLRACE_NATS_LEDGER_TTL_MS=0}) the batch is named {@link
   * FixedBatch#nameOf} and nothing is recorded.
   *
   * @throws IOException if the ledger could not be read or written (nothing was claimed that a
   *     retry would not find again: the same call may be repeated)
   */
  @Override
  public FixedBatch fix(List<Job> formed) throws IOException {
    List<Job> batch = withoutSuperseded(formed);
    if (batch.isEmpty()) {
      return null;
    }
    String base = FixedBatch.nameOf(batch);
    if (cfg.ledgerTtlMs() <= 0) {
      return new FixedBatch(base, batch, false);
    }
    List<Part> parts = new ArrayList<>();
    List<List<Job>> jobsOf = new ArrayList<>();
    Delivery.Held prev = null;
    for (Job j : batch) {
      Delivery.Held h = heldOf(j);
      if (prev != null && prev.delivery == h.delivery && prev.index + 1 == h.index) {
        Part last = parts.removeLast();
        parts.add(new Part(last.seq(), last.from(), h.index + 1));
        jobsOf.getLast().add(j);
      } else {
        parts.add(new Part(h.delivery.seq, h.index, h.index + 1));
        jobsOf.add(new ArrayList<>(List.of(j)));
      }
      prev = h;
    }
    Ledger l = ledger();
    String name = base;
    try {
      for (int k = 1; !l.record(new Ledger.Intent(name, parts)); k++) {
        if (k > 100) {
          throw new IOException("no free batch name after " + base + "-100");
        }
        name = base + "-" + k; // the same first payload and count, other parts: another batch
      }
      List<Part> content = l.claim(new Ledger.Intent(name, parts));
      List<Job> kept = new ArrayList<>(batch.size());
      Set<String> blockers = new LinkedHashSet<>();
      for (int i = 0; i < parts.size(); i++) {
        if (content.contains(parts.get(i))) {
          kept.addAll(jobsOf.get(i));
          continue;
        }
        // the payloads another batch claimed are rebuilt with it; the others of this part (an
        // overlap can be partial) go back to be batched again
        List<Ledger.Claim> claims = l.claimsOn(parts.get(i).seq());
        List<Job> covered = new ArrayList<>();
        List<Job> free = new ArrayList<>();
        for (Job j : jobsOf.get(i)) {
          int index = ((Delivery.Held) j.receipt()).index;
          boolean in = false;
          for (Ledger.Claim c : claims) {
            if (c.part().from() <= index && index < c.part().to()) {
              in = true;
              blockers.add(c.batch());
              break;
            }
          }
          (in ? covered : free).add(j);
        }
        markRebuilding(covered);
        requeue(free);
      }
      if (!blockers.isEmpty()) {
        LOG.warn(
            "batch {}: {} of its {} payloads were claimed by batches {} first (a worker froze or"
                + " died holding them); those are rebuilt",
            name,
            batch.size() - kept.size(),
            batch.size(),
            blockers);
        for (String b : blockers) {
          scheduleRebuild(b);
        }
      }
      return kept.isEmpty() ? null : new FixedBatch(name, kept, true);
    } catch (JetStreamApiException | RuntimeException e) {
      throw new IOException("the batch ledger failed: " + e, e);
    }
  }

  /**
   * {@return the batch without the jobs of deliveries superseded since they were handed out} Their
   * payloads came again in the newer delivery, which hands them out (or has): a batch holding both
   * would store them twice, in one object.
   */
  private List<Job> withoutSuperseded(List<Job> batch) {
    lock.lock();
    try {
      List<Job> live = null;
      for (int i = 0; i < batch.size(); i++) {
        Job j = batch.get(i);
        if (heldOf(j).delivery.superseded) {
          if (live == null) {
            live = new ArrayList<>(batch.subList(0, i));
          }
        } else if (live != null) {
          live.add(j);
        }
      }
      return live == null ? batch : live;
    } finally {
      lock.unlock();
    }
  }

  /** Puts jobs handed out and left out of their batch back at the head of the waiting line. */
  private void requeue(List<Job> jobs) {
    if (jobs.isEmpty()) {
      return;
    }
    lock.lock();
    try {
      for (int i = jobs.size() - 1; i >= 0; i--) {
        waiting.addFirst(jobs.get(i));
      }
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void markRebuilding(List<Job> jobs) {
    lock.lock();
    try {
      for (Job j : jobs) {
        ((Delivery.Held) j.receipt()).rebuilding = true;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Rebuilds the batch of this name on a virtual thread, unless that is under way already. */
  private void scheduleRebuild(String name) {
    if (name.equals(Ledger.GONE)) {
      return; // claimed as already acknowledged: nothing of ours is in it
    }
    lock.lock();
    try {
      if (abandoned) {
        return;
      }
      if (!rebuilding.add(name)) {
        rebuildAgain.add(name); // jobs that arrived since may not be in the one under way
        return;
      }
    } finally {
      lock.unlock();
    }
    Thread.ofVirtual().name("millrace-nats-rebuild").start(() -> rebuild(name));
  }

  private void rebuild(String name) {
    FixedBatch b = null;
    boolean again;
    try {
      if (ledger().stored(name)) {
        // stored whole already (a rebuild of it was, and acknowledged the messages held then):
        // these are its last messages, redelivered late; storing what is left of it would put
        // their payloads under other keys a second time
        List<Job> mine = jobsOfBatch(name);
        LOG.info("batch {} was stored; acknowledging its {} payloads held here", name, mine.size());
        ack(mine);
      } else {
        b = rebuildNow(name);
      }
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      List<Job> mine = jobsOfBatch(name);
      LOG.warn(
          "could not rebuild batch {} ({}); its {} payloads held here go back to JetStream",
          name,
          e.toString(),
          mine.size());
      unmark(mine);
      giveBack(mine, e);
    } finally {
      lock.lock();
      try {
        if (b != null && !abandoned) {
          rebuilt.add(b);
        }
        rebuilding.remove(name);
        again = rebuildAgain.remove(name) && !abandoned;
        notEmpty.signalAll();
      } finally {
        lock.unlock();
      }
    }
    if (again) {
      scheduleRebuild(name);
    }
  }

  /**
   * {@return batch {@code name} as its intent and claims fix it: the jobs of messages held here,
   * the others read back by sequence (acknowledged by whoever holds them); null if none of its
   * messages is left, or if one is gone and the batch is recorded stored (it was stored whole
   * meanwhile: what is held of it here is acknowledged)}
   */
  FixedBatch rebuildNow(String name) throws IOException, JetStreamApiException {
    Ledger l = ledger();
    Ledger.Intent intent = l.intent(name);
    if (intent == null) {
      throw new IllegalStateException(
          "its intent is gone from the ledger (older than MILLRACE_NATS_LEDGER_TTL_MS?)");
    }
    List<Part> content = l.claim(intent); // settles what its worker did not claim before dying
    List<Job> jobs = new ArrayList<>();
    boolean partGone = false;
    var jsm = link.state().connection().jetStreamManagement();
    for (Part p : content) {
      List<Job> of = null;
      lock.lock();
      try {
        Delivery d = bySeq.get(p.seq());
        if (d != null && !d.settled && p.to() <= d.jobs.size()) {
          of = d.jobs.subList(p.from(), p.to());
          for (Job j : of) {
            ((Delivery.Held) j.receipt()).rebuilding = true;
          }
        }
      } finally {
        lock.unlock();
      }
      if (of == null) {
        MessageInfo mi;
        try {
          mi = jsm.getMessage(cfg.stream(), p.seq());
        } catch (JetStreamApiException e) {
          if (e.getApiErrorCode() == NO_MESSAGE_FOUND) {
            partGone = true; // acknowledged (so the batch was stored) or dead-lettered
            continue;
          }
          throw e;
        }
        List<Job> all = Codec.decode(mi.getHeaders(), mi.getData(), i -> Delivery.Foreign.INSTANCE);
        if (p.to() > all.size()) {
          throw new IllegalStateException("message " + p.seq() + " has fewer payloads than " + p);
        }
        of = all.subList(p.from(), p.to());
      }
      jobs.addAll(of);
    }
    if (partGone && l.stored(name)) {
      // stored whole (and recorded so) since the check in rebuild: what is held of it here was in
      // that object; a subset stored under its key now would overwrite it and lose the rest
      List<Job> held = new ArrayList<>();
      for (Job j : jobs) {
        if (j.receipt() instanceof Delivery.Held) {
          held.add(j);
        }
      }
      LOG.info(
          "batch {} was stored meanwhile; acknowledging its {} payloads held here",
          name,
          held.size());
      ack(held);
      return null;
    }
    return jobs.isEmpty() ? null : new FixedBatch(name, jobs, true);
  }

  private static final int NO_MESSAGE_FOUND = 10037;

  /** {@return the held jobs whose payloads batch {@code name} claimed, as far as known here} */
  private List<Job> jobsOfBatch(String name) {
    List<Job> out = new ArrayList<>();
    Ledger l = ledger;
    lock.lock();
    List<Delivery> ds;
    try {
      ds = new ArrayList<>(held);
    } finally {
      lock.unlock();
    }
    for (Delivery d : ds) {
      List<Ledger.Claim> claims;
      try {
        claims = l == null ? List.of() : l.claimsOn(d.seq);
      } catch (IOException | JetStreamApiException | RuntimeException e) {
        claims = List.of();
      }
      for (Ledger.Claim c : claims) {
        if (c.batch().equals(name) && c.part().to() <= d.jobs.size()) {
          out.addAll(d.jobs.subList(c.part().from(), c.part().to()));
        }
      }
    }
    return out;
  }

  private void unmark(List<Job> jobs) {
    lock.lock();
    try {
      for (Job j : jobs) {
        ((Delivery.Held) j.receipt()).rebuilding = false;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Batches rebuilt from the ledger after a redelivery, fixed already: stored like the others (the
   * same key, the same content as whoever fixed them first), then {@linkplain #ack acknowledged}.
   * Blocks while none is ready; ends once the jobs' iteration can end and no rebuild is under way.
   * Call once.
   */
  @Override
  public Iterator<FixedBatch> rebuilt() {
    if (!rebuiltIterated.compareAndSet(false, true)) {
      throw new IllegalStateException("rebuilt() may be called once");
    }
    return new Iterator<>() {
      private FixedBatch next;
      private boolean ended;

      @Override
      public boolean hasNext() {
        if (next != null) {
          return true;
        }
        if (ended) {
          return false;
        }
        lock.lock();
        try {
          while (true) {
            FixedBatch b = rebuilt.pollFirst();
            if (b != null) {
              next = b;
              return true;
            }
            if (abandoned || (fetchEnded && rebuilding.isEmpty())) {
              ended = true;
              return false;
            }
            notEmpty.await();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.util.concurrent.CancellationException(
              "interrupted while waiting for rebuilt batches");
        } finally {
          lock.unlock();
        }
      }

      @Override
      public FixedBatch next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        FixedBatch b = next;
        next = null;
        return b;
      }
    };
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
        if (j.receipt() instanceof Delivery.Foreign) {
          continue;
        }
        Delivery d = heldOf(j).delivery;
        if (d.settled) {
          continue;
        }
        d.settled = true;
        held.remove(d);
        bySeq.remove(d.seq, d);
        settledLately.put(d.message(), d.delivered);
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
