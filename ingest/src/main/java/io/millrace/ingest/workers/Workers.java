package io.millrace.ingest.workers;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.Redelivery;
import io.millrace.ingest.store.ObjectStore;
import io.millrace.pipeline.ErrorPolicy;
import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.PipelineStats;
import io.millrace.pipeline.RunHandle;
import io.millrace.pipeline.RunListener;
import io.millrace.pipeline.StageStats;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;

/**
 * The worker pool, as one millrace pipeline run over a {@link JobSource}.
 *
 * <p>Batched mode: {@code source → batch(range size, MILLRACE_BATCH_MAX_AGE_MS) → split each range
 * into objects ({@link RangeSplit}: per partition value of the key template, by payload count and
 * bytes) → encode NDJSON ({@link Compression}) → mapConcurrentUnordered(MAX_WORKERS, upload under
 * the adaptive limit) with retry → ack the range once all its objects are stored}. A range is a
 * contiguous run of the queue; with the default template it is {@code MILLRACE_BATCH_MAX_PAYLOADS}
 * payloads and splits only by bytes, exactly as before. With a partitioned template a range holds
 * up to {@code MILLRACE_BATCH_MAX_PAYLOADS × MILLRACE_BATCH_MAX_OPEN_PARTITIONS} payloads but at
 * most half of {@code MAX_QUEUE} (and half of {@code MILLRACE_QUEUE_MAX_BYTES}) and half of what
 * the source hands out before an acknowledgement, so each partition's objects stay large while
 * admission keeps room and the next range can fill (ADR 0004). Per-payload mode: {@code source →
 * mapConcurrentUnordered(MAX_WORKERS, upload one .json under the adaptive limit) with retry → ack}.
 * A job's budget in the queue is released only after its object (batched: every object of its
 * range) is stored. Keys and encoding: {@link UploadLayout}; the limit: {@link Uploader}.
 *
 * <p>When the source has nowhere better to keep jobs (no {@link JobSource#redelivery()}), uploads
 * retry without limit (exponential backoff with jitter, 50 ms doubling to 5 s; an S3 {@code 503
 * SlowDown} adds its own growing pause): while the store is down the queue fills and admission
 * answers 429, and shutdown hands over what is left. When it can take jobs back, an upload is tried
 * three times, then its jobs are {@linkplain Redelivery#giveBack given back} to be redelivered
 * later. Nothing is dropped.
 *
 * <p>If the run dies (an error no policy handles), {@link #notReadyReason()} says so for good and
 * the source is {@linkplain JobSource#abandon abandoned}, so a shared queue's messages go to
 * healthy workers instead of being kept alive here.
 */
public final class Workers {
  private static final Logger LOG = LoggerFactory.getLogger(Workers.class);

  private final Config config;
  private final JobSource source;
  private final UploadLayout layout;
  private final RangeSplit split;
  private final Uploader uploader;
  private final Metrics metrics;
  private final Runnable onStoreFailure;
  private final Runnable onStoreSuccess;

  /** Formed ranges not yet stored; spilled whole if shutdown cannot store them. */
  private final Set<Range> inFlight = ConcurrentHashMap.newKeySet();

  private final AtomicInteger uploading = new AtomicInteger();
  private volatile RunHandle<String> run; // emits the keys stored: no bodies kept in buffers
  private volatile Throwable died; // the failure that ended the run, if one did

  /**
   * A formed range: its jobs in queue order, and how many of its objects are not yet stored (or
   * given back). Its jobs are acknowledged together when the last object is stored, so a range is
   * either stored whole or kept whole for a replay that rebuilds the same objects.
   */
  static final class Range {
    final FixedBatch batch;
    final List<Job> jobs;
    final int pieces;
    final AtomicInteger pending;
    final List<Job> givenBack = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Why a piece of a recorded range ran out of tries: then all of it goes back, once done. */
    final AtomicReference<Throwable> failed = new AtomicReference<>();

    Range(FixedBatch batch, int pieces) {
      this.batch = batch;
      this.jobs = batch.jobs();
      this.pieces = pieces;
      this.pending = new AtomicInteger(pieces);
    }
  }

  /** An object to store: its key, bytes, the jobs it holds, and the range it belongs to. */
  record Upload(
      String key,
      byte[] body,
      String contentType,
      String contentEncoding,
      List<Job> jobs,
      Range range,
      AtomicInteger failures) {}

  /**
   * Creates the pool; {@link #start} runs it.
   *
   * @param config mode, batch limits, prefix, {@code MAX_WORKERS}
   * @param source where jobs come from and are acknowledged
   * @param store where objects go
   * @param metrics where counters go
   * @param onStoreFailure told of every failed upload attempt
   * @param onStoreSuccess told of every stored object
   */
  public Workers(
      Config config,
      JobSource source,
      ObjectStore store,
      Metrics metrics,
      Runnable onStoreFailure,
      Runnable onStoreSuccess) {
    this(config, source, store, metrics, onStoreFailure, onStoreSuccess, System::nanoTime);
  }

  /**
   * Creates the pool with a given clock for the adaptive limit; {@link #start} runs it.
   *
   * @param config mode, batch limits, key layout, {@code MAX_WORKERS}
   * @param source where jobs come from and are acknowledged
   * @param store where objects go
   * @param metrics where counters go
   * @param onStoreFailure told of every failed upload attempt
   * @param onStoreSuccess told of every stored object
   * @param nanoClock the adaptive limit's clock, like {@link System#nanoTime}
   * @throws IllegalArgumentException if the key template or the compression is not accepted
   */
  public Workers(
      Config config,
      JobSource source,
      ObjectStore store,
      Metrics metrics,
      Runnable onStoreFailure,
      Runnable onStoreSuccess,
      java.util.function.LongSupplier nanoClock) {
    this.config = config;
    this.source = source;
    this.layout = UploadLayout.of(config);
    this.split =
        new RangeSplit(
            layout.template(),
            config.batchMaxPayloads(),
            config.batchMaxBytes(),
            config.batchMaxOpenPartitions());
    this.uploader =
        new Uploader(
            store,
            config.maxWorkers(),
            config.uploadAdaptive(),
            nanoClock,
            ConcurrencyTuning.SERVICE,
            metrics);
    this.metrics = metrics;
    this.onStoreFailure = onStoreFailure;
    this.onStoreSuccess = onStoreSuccess;
    metrics.gauge("millrace_uploads_in_flight", "object uploads in flight", uploading::get);
    metrics.gauge(
        "millrace_pipeline_retried",
        "retries counted by the upload stage",
        () -> stat("upload").retried());
  }

  private StageStats stat(String name) {
    RunHandle<String> r = run;
    StageStats s = r == null ? null : r.stats().stage(name);
    return s == null ? new StageStats(name, 0, 0, 0, 0, 0, 0, 0, 0, Duration.ZERO) : s;
  }

  /**
   * Starts the run; batches the source replayed at start are stored again as they were (same
   * content, same key).
   */
  public void start() {
    ErrorPolicy retry =
        source
            .redelivery()
            // a few tries here, then the jobs go back to the queue: redelivered later (to any
            // worker) with a growing delay, or dead-lettered after MaxDeliver deliveries
            .map(
                back ->
                    ErrorPolicy.retry(3, Duration.ofMillis(200))
                        .withMaxBackoff(Duration.ofSeconds(2))
                        .orElse(ErrorPolicy.divert((item, e) -> giveBack(back, (Upload) item, e))))
            .orElseGet(
                () ->
                    ErrorPolicy.retry(Integer.MAX_VALUE, Duration.ofMillis(50))
                        .withMaxBackoff(Duration.ofSeconds(5)));
    Pipeline<FixedBatch> fixed = fixed(Pipeline.from(source.jobs()).named("queue"));
    Pipeline<String> uploads; // the keys stored, so no body waits in the sink's buffer
    if (config.mode() == Config.Mode.BATCHED) {
      int encoders = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
      uploads =
          fixed
              .flatMap(this::split)
              .named("split")
              .mapConcurrentUnordered(encoders, this::encode)
              .named("encode")
              .mapConcurrentUnordered(config.maxWorkers(), this::upload)
              .onError(retry)
              .named("upload");
    } else {
      uploads =
          fixed
              .flatMap(this::singles)
              .named("encode")
              .mapConcurrentUnordered(config.maxWorkers(), this::upload)
              .onError(retry)
              .named("upload");
    }
    run =
        uploads
            .withListener(
                new RunListener() {
                  @Override
                  public void onEnd(RunHandle<?> r, PipelineStats stats, Throwable failure) {
                    if (failure != null && !(failure instanceof CancellationException)) {
                      died(failure);
                    }
                  }
                })
            .start(u -> {});
    stageMeters(run.stats());
  }

  /**
   * Registers the per-stage meters {@code millrace_pipeline_stage_*{stage}} of the run's stages
   * (their counters from {@link RunHandle#stats()}, read at every scrape).
   */
  private void stageMeters(PipelineStats stats) {
    for (StageStats st : stats.stages()) {
      String n = st.name();
      metrics.functionCounter(
          "millrace_pipeline_stage_in",
          "elements the stage took in",
          () -> stat(n).in(),
          "stage",
          n);
      metrics.functionCounter(
          "millrace_pipeline_stage_out",
          "elements the stage emitted",
          () -> stat(n).out(),
          "stage",
          n);
      metrics.functionCounter(
          "millrace_pipeline_stage_failed",
          "calls of the stage's function that threw (every attempt)",
          () -> stat(n).failed(),
          "stage",
          n);
      metrics.functionCounter(
          "millrace_pipeline_stage_retried",
          "calls the stage repeated after a failure",
          () -> stat(n).retried(),
          "stage",
          n);
      metrics.functionCounter(
          "millrace_pipeline_stage_diverted",
          "elements handed back to the queue after their tries ran out",
          () -> stat(n).diverted(),
          "stage",
          n);
      metrics.functionCounter(
          "millrace_pipeline_stage_busy_seconds",
          "time spent in the stage's function (summed over concurrent calls)",
          () -> stat(n).busy().toNanos() / 1e9,
          "stage",
          n);
      metrics.gauge(
          "millrace_pipeline_stage_in_flight",
          "calls of the stage's function running now",
          () -> stat(n).inFlight(),
          "stage",
          n);
      metrics.gauge(
          "millrace_pipeline_stage_buffered",
          "elements waiting in the stage's output buffer now",
          () -> stat(n).buffered(),
          "stage",
          n);
    }
  }

  /**
   * {@return a failure as one line for the status page: the store's error code and message, or the
   * exception's class and message; no request ids (so repeats fold), no object key}
   */
  static String describe(Throwable e) {
    if (e instanceof AwsServiceException ase) {
      String code = ase.awsErrorDetails() == null ? null : ase.awsErrorDetails().errorCode();
      String msg = ase.awsErrorDetails() == null ? null : ase.awsErrorDetails().errorMessage();
      return "store answered "
          + ase.statusCode()
          + (code == null ? "" : " " + code)
          + (msg == null ? "" : ": " + msg);
    }
    String msg = e.getMessage();
    return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
  }

  /** The run died: nothing is stored any more, for good (admission fills up, readiness fails). */
  private void died(Throwable failure) {
    LOG.error("the worker pipeline failed; payloads are no longer stored here", failure);
    died = failure;
    metrics.errors.record("workers", "the worker pipeline failed: " + describe(failure));
    try {
      source.abandon(failure);
    } catch (RuntimeException e) {
      LOG.warn("handing back what the dead pipeline held: {}", e.toString());
    }
  }

  /** {@return the upload concurrency limit now (adaptive, or {@code MAX_WORKERS})} */
  public int uploadLimit() {
    return uploader.limit();
  }

  /** {@return why this node stores nothing any more (the pipeline died), or null} */
  public String notReadyReason() {
    Throwable t = died;
    return t == null ? null : "the worker pipeline failed (" + t + "); nothing is stored here";
  }

  /**
   * An object ran out of tries: its jobs go back to the queue, to be redelivered. A recorded range
   * of several objects goes back whole, once its other objects are done: its messages are then all
   * still in the stream, so whoever gets them rebuilds the same range (the ledger) and splits it
   * into the same objects under the same keys (those stored already are left as they are). Giving
   * back only this object's messages would acknowledge the range's other messages, which the stream
   * then deletes: the rebuilt range would lack them and split differently, storing the given-back
   * messages' other payloads again under other keys (or, where a key matched an object of other
   * content, not at all).
   */
  private void giveBack(Redelivery back, Upload u, Throwable e) {
    Range r = u.range();
    if (r != null && r.pieces > 1 && r.batch.recoverable()) {
      r.failed.compareAndSet(null, e);
      LOG.warn(
          "upload of {} failed {} times; its batch {} ({} payloads) goes back to the queue whole"
              + " once its other objects are done: {}",
          u.key(),
          u.failures().get(),
          r.batch.name(),
          r.jobs.size(),
          e.toString());
      pieceDone(r);
      return;
    }
    if (u.range() != null) {
      u.range().givenBack.addAll(u.jobs());
    }
    LOG.warn(
        "upload of {} failed {} times; its {} payloads go back to the queue: {}",
        u.key(),
        u.failures().get(),
        u.jobs().size(),
        e.toString());
    back.giveBack(u.jobs(), e);
    if (u.range() != null) {
      pieceDone(u.range());
    }
  }

  /**
   * {@return how many payloads a range holds at most: {@code MILLRACE_BATCH_MAX_PAYLOADS}; with a
   * partitioned template that many per open partition, but at most half of {@code MAX_QUEUE} and
   * half of what the source hands out before an acknowledgement ({@link JobSource#handOutLimit()}),
   * never less than {@code MILLRACE_BATCH_MAX_PAYLOADS}}
   *
   * <p>Half, not all: the next range fills while one is uploaded, and admission must keep room
   * meanwhile. A range larger than half the hand-out bound could not fill while the previous one is
   * stored (the source stops handing out at its bound) and would be cut by age alone: a lockstep of
   * one range per {@code MILLRACE_BATCH_MAX_AGE_MS} (BENCHMARKS.md U8). A range splits into about
   * one object per partition value, so its size is what sets the objects' size (and the PUTs per
   * payload) of a many-valued template (BENCHMARKS.md U5).
   *
   * @param config the batch limits and {@code MAX_QUEUE}
   * @param partitioned whether ranges are split per partition value
   * @param handOutLimit the source's {@link JobSource#handOutLimit()}
   */
  static int rangeSize(Config config, boolean partitioned, long handOutLimit) {
    int per = config.batchMaxPayloads();
    if (!partitioned) {
      return per;
    }
    long wanted = (long) per * config.batchMaxOpenPartitions();
    long cap = Math.min(config.maxQueue() / 2, handOutLimit / 2);
    return (int) Math.max(per, Math.min(wanted, cap));
  }

  /**
   * {@return how many payload bytes a range holds at most: {@code MILLRACE_BATCH_MAX_BYTES}; with a
   * partitioned template that many per open partition, but at most half of {@code
   * MILLRACE_QUEUE_MAX_BYTES} and half of the source's {@link JobSource#handOutByteLimit()} (never
   * less than {@code MILLRACE_BATCH_MAX_BYTES}), as {@link #rangeSize}}
   *
   * @param config the batch limits and {@code MILLRACE_QUEUE_MAX_BYTES}
   * @param partitioned whether ranges are split per partition value
   * @param handOutByteLimit the source's {@link JobSource#handOutByteLimit()}
   */
  static long rangeBytes(Config config, boolean partitioned, long handOutByteLimit) {
    long per = config.batchMaxBytes();
    if (!partitioned) {
      return per;
    }
    long wanted = per * config.batchMaxOpenPartitions(); // <= 2^31 x 100000: no overflow
    long cap = Math.min(config.queueMaxBytes() / 2, handOutByteLimit / 2);
    return Math.max(per, Math.min(wanted, cap));
  }

  /**
   * {@return the ranges to store, each fixed by the source before anything is encoded: formed from
   * the jobs (count and age, then split by bytes: with the default template at {@code
   * MILLRACE_BATCH_MAX_BYTES}, as before templates; partitioned at {@link #rangeBytes(Config,
   * boolean, long)}) and fixed in order on one thread, then those the source replayed at start
   * (already fixed: fixing returns them as recorded)}
   */
  private Pipeline<FixedBatch> fixed(Pipeline<Job> jobs) {
    Pipeline<List<Job>> formed =
        jobs.batch(
                rangeSize(config, partitionedRanges(), source.handOutLimit()),
                Duration.ofMillis(config.batchMaxAgeMs()))
            .named("batch");
    long rangeBytes = rangeBytes(config, partitionedRanges(), source.handOutByteLimit());
    formed = formed.flatMap(b -> RangeSplit.byBytes(b, rangeBytes)).named("split bytes");
    Pipeline<FixedBatch> fixedFormed = formed.flatMap(this::fix).named("fix");
    // rebuilt by a shared source after a redelivery (JetStream), fixed already
    fixedFormed = Pipeline.merge(fixedFormed, Pipeline.from(source.rebuilt()).named("rebuilt"));
    List<List<Job>> replayed = source.replayedBatches();
    if (replayed.isEmpty()) {
      return fixedFormed;
    }
    return Pipeline.merge(
        fixedFormed, Pipeline.from(replayed).flatMap(this::fix).named("fix replayed"));
  }

  /** {@return whether ranges are split per partition value (batched mode, a field template)} */
  private boolean partitionedRanges() {
    return config.mode() == Config.Mode.BATCHED && layout.partitioned();
  }

  /**
   * Fixes a batch, trying again while the source cannot record it (disk full, I/O error: nothing
   * was fixed, so the same call is safe), with backoff from 50 ms doubling to 5 s.
   */
  private List<FixedBatch> fix(List<Job> batch) throws InterruptedException {
    long pauseMs = 50;
    for (int failures = 1; ; failures++) {
      try {
        FixedBatch f = source.fix(batch);
        return f == null ? List.of() : List.of(f); // null: all in batches fixed elsewhere
      } catch (IOException e) {
        if (failures == 1 || failures % 20 == 0) {
          LOG.warn(
              "fixing a batch of {} payloads failed (attempt {}), retrying: {}",
              batch.size(),
              failures,
              e.toString());
        }
        Thread.sleep(ThreadLocalRandom.current().nextLong(pauseMs / 2, pauseMs + 1));
        pauseMs = Math.min(5000, pauseMs * 2);
      }
    }
  }

  /**
   * Splits one fixed range into its objects (keys fixed, bodies not yet encoded). One object is
   * named as the range; several are {@code <range name>-<k>}, k counting from 0 in split order,
   * which is a function of the range alone.
   */
  private List<Upload> split(FixedBatch batch) {
    List<RangeSplit.Piece> pieces = split.split(batch.jobs());
    Range range = new Range(batch, pieces.size());
    inFlight.add(range);
    List<Upload> out = new ArrayList<>(pieces.size());
    for (int k = 0; k < pieces.size(); k++) {
      RangeSplit.Piece p = pieces.get(k);
      String name = pieces.size() == 1 ? batch.name() : batch.name() + "-" + k;
      out.add(
          new Upload(
              layout.batchKey(p.partition(), p.jobs().getFirst().admittedAtMillis(), name),
              null,
              "application/x-ndjson",
              layout.batchContentEncoding(),
              p.jobs(),
              range,
              new AtomicInteger()));
    }
    return out;
  }

  /** Per-payload mode: one object per payload of a fixed batch, each acknowledged on its own. */
  private List<Upload> singles(FixedBatch batch) {
    List<Upload> out = new ArrayList<>(batch.size());
    for (Job job : batch.jobs()) {
      out.add(
          new Upload(
              layout.singleKey(job),
              job.payload(),
              "application/json",
              null,
              List.of(job),
              null,
              new AtomicInteger()));
    }
    return out;
  }

  private Upload encode(Upload piece) {
    List<byte[]> payloads = new ArrayList<>(piece.jobs().size());
    for (Job j : piece.jobs()) {
      payloads.add(j.payload());
    }
    byte[] body = layout.compression().encodeNdjson(payloads);
    return new Upload(
        piece.key(),
        body,
        piece.contentType(),
        piece.contentEncoding(),
        piece.jobs(),
        piece.range(),
        piece.failures());
  }

  /** One object of {@code range} is done (stored, or given back); the last one acks the range. */
  private void pieceDone(Range range) {
    if (range.pending.decrementAndGet() == 0) {
      inFlight.remove(range);
      Throwable failed = range.failed.get(); // set before its piece's decrement: visible here
      if (failed != null) {
        source.redelivery().orElseThrow().giveBack(range.jobs, failed);
        return;
      }
      if (range.givenBack.isEmpty()) {
        source.ack(range.batch); // the source records the batch stored
        return;
      }
      java.util.Set<Job> back =
          java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      back.addAll(range.givenBack);
      List<Job> stored = new ArrayList<>();
      for (Job j : range.jobs) {
        if (!back.contains(j)) {
          stored.add(j);
        }
      }
      if (!stored.isEmpty()) {
        source.ack(stored);
      }
    }
  }

  /** Stores one object and acknowledges what it completes; {@return its key} */
  private String upload(Upload u) throws Exception {
    uploading.incrementAndGet();
    long t0 = System.nanoTime();
    try {
      // a recorded batch may be stored by someone else too (a replay, a rebuild, a frozen
      // worker resumed): same key, same content; the first write stays
      boolean recorded = u.range() != null && u.range().batch.recoverable();
      if (!uploader.put(u.key(), u.body(), u.contentType(), u.contentEncoding(), recorded)) {
        LOG.debug("{} was stored already; acknowledging its payloads", u.key());
      }
    } catch (Exception e) {
      if (e instanceof InterruptedException || Thread.currentThread().isInterrupted()) {
        throw e;
      }
      int failures = u.failures().incrementAndGet();
      metrics.uploadRetries.increment();
      metrics.errors.record("store", "upload failed: " + describe(e));
      onStoreFailure.run();
      if (e instanceof AwsServiceException ase && ase.statusCode() == 503) {
        // SlowDown: the store asks for less load; pause longer than the pipeline's own backoff
        long pauseMs = Math.min(10_000L, 100L << Math.min(failures, 7));
        Thread.sleep(ThreadLocalRandom.current().nextLong(pauseMs / 2, pauseMs + 1));
      }
      if (failures == 1 || failures % 20 == 0) {
        LOG.warn("upload of {} failed (attempt {}), retrying: {}", u.key(), failures, e.toString());
      }
      throw e;
    } finally {
      uploading.decrementAndGet();
    }
    metrics.uploadTime.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
    if (u.range() == null) {
      source.ack(u.jobs());
    } else {
      pieceDone(u.range());
    }
    metrics.objectsStored.increment();
    metrics.bytesStored.increment(u.body().length);
    metrics.payloadsStored.increment(u.jobs().size());
    onStoreSuccess.run();
    return u.key(); // not u: its body would wait in the stage's output buffer for the sink
  }

  /**
   * Waits for the run to end (the queue's admission must be closed first), at most {@code timeout};
   * then cancels it and waits for its threads to end.
   *
   * @return whether everything was stored in time
   */
  public boolean drain(Duration timeout) {
    RunHandle<String> r = run;
    if (r == null) {
      return true;
    }
    boolean interrupted = false;
    boolean done = false;
    try {
      done = r.join(timeout);
    } catch (InterruptedException e) {
      interrupted = true;
    } catch (CancellationException | io.millrace.pipeline.PipelineException e) {
      LOG.warn("worker pipeline ended abnormally: {}", e.toString());
      done = true;
    }
    if (!done) {
      r.cancel();
      try {
        r.join(Duration.ofSeconds(10));
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (CancellationException | io.millrace.pipeline.PipelineException e) {
        // expected: we cancelled it
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return done;
  }

  /** Cancels the run without waiting for the queue to empty (tests, fatal errors). */
  public void cancel() {
    RunHandle<String> r = run;
    if (r != null) {
      r.cancel();
    }
  }

  /**
   * {@return the batches formed and not stored (batched mode; empty per payload), for {@link
   * JobSource#handOver} to keep whole. Call after the run has ended}
   */
  public List<List<Job>> formedBatches() {
    List<List<Job>> groups = new ArrayList<>();
    if (config.mode() == Config.Mode.BATCHED) {
      for (Range r : inFlight) {
        if (r.givenBack.isEmpty()) {
          groups.add(r.jobs);
        } else {
          List<Job> kept = new ArrayList<>(r.jobs);
          kept.removeIf(j -> r.givenBack.stream().anyMatch(b -> b == j));
          groups.add(kept);
        }
      }
    }
    return groups;
  }
}
