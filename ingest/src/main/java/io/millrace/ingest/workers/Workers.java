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
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;

/**
 * The worker pool, as one millrace pipeline run over a {@link JobSource}.
 *
 * <p>Both modes: {@code source → batch(maxPayloads, maxAge) → split by bytes → fix}, then batched
 * mode: {@code → encode NDJSON.gz → mapConcurrentUnordered(MAX_WORKERS, upload) with retry → ack
 * the batch}; per-payload mode: {@code → one .json per payload →
 * mapConcurrentUnordered(MAX_WORKERS, upload) with retry → ack the payload}. The fix stage is one
 * thread, in order: {@link JobSource#fix} fixes each batch's content and name before anything is
 * encoded (the local log records it durably, so a replay after a crash rebuilds the same batch
 * under the same key); it retries without limit while the source cannot record (disk full). A job's
 * budget in the queue is released only after its object is stored. Keys: {@link ObjectKeys}; bytes:
 * {@link Encoding}.
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
  private final ObjectKeys keys;
  private final ObjectStore store;
  private final Metrics metrics;
  private final Runnable onStoreFailure;
  private final Runnable onStoreSuccess;

  /** Formed batches not yet stored, by key; spilled as groups if shutdown cannot store them. */
  private final Map<String, Upload> inFlight = new ConcurrentHashMap<>();

  private final AtomicInteger uploading = new AtomicInteger();
  private volatile RunHandle<Upload> run;
  private volatile Throwable died; // the failure that ended the run, if one did

  /**
   * An object to store: its key, bytes, the jobs it holds, and the fixed batch it stores whole
   * (null for one payload of a batch, acknowledged on its own).
   */
  record Upload(
      String key,
      byte[] body,
      String contentType,
      List<Job> jobs,
      FixedBatch batch,
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
    this.config = config;
    this.source = source;
    this.keys = new ObjectKeys(config.prefix());
    this.store = store;
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
    RunHandle<Upload> r = run;
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
    Pipeline<Upload> uploads;
    if (config.mode() == Config.Mode.BATCHED) {
      int encoders = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
      uploads =
          fixed
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
  }

  /**
   * {@return the batches to store, each fixed by the source before anything is encoded: formed from
   * the jobs (count, age, bytes) and fixed in order on one thread, then those the source replayed
   * at start (already fixed: fixing returns them as recorded)}
   */
  private Pipeline<FixedBatch> fixed(Pipeline<Job> jobs) {
    Pipeline<FixedBatch> formed =
        jobs.batch(config.batchMaxPayloads(), Duration.ofMillis(config.batchMaxAgeMs()))
            .named("batch")
            .flatMap(b -> Encoding.splitByBytes(b, config.batchMaxBytes()))
            .named("split")
            .flatMap(this::fix)
            .named("fix");
    // rebuilt by a shared source after a redelivery (JetStream), fixed already
    formed = Pipeline.merge(formed, Pipeline.from(source.rebuilt()).named("rebuilt"));
    List<List<Job>> replayed = source.replayedBatches();
    if (replayed.isEmpty()) {
      return formed;
    }
    return Pipeline.merge(formed, Pipeline.from(replayed).flatMap(this::fix).named("fix replayed"));
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

  /** The run died: nothing is stored any more, for good (admission fills up, readiness fails). */
  private void died(Throwable failure) {
    LOG.error("the worker pipeline failed; payloads are no longer stored here", failure);
    died = failure;
    try {
      source.abandon(failure);
    } catch (RuntimeException e) {
      LOG.warn("handing back what the dead pipeline held: {}", e.toString());
    }
  }

  /** {@return why this node stores nothing any more (the pipeline died), or null} */
  public String notReadyReason() {
    Throwable t = died;
    return t == null ? null : "the worker pipeline failed (" + t + "); nothing is stored here";
  }

  private void giveBack(Redelivery back, Upload u, Throwable e) {
    inFlight.remove(u.key());
    LOG.warn(
        "upload of {} failed {} times; its {} payloads go back to the queue: {}",
        u.key(),
        u.failures().get(),
        u.jobs().size(),
        e.toString());
    back.giveBack(u.jobs(), e);
  }

  /** Per-payload mode: one object per payload of a fixed batch, each acknowledged on its own. */
  private List<Upload> singles(FixedBatch batch) {
    List<Upload> out = new ArrayList<>(batch.size());
    for (Job job : batch.jobs()) {
      Upload u =
          new Upload(
              keys.single(job),
              job.payload(),
              "application/json",
              List.of(job),
              null,
              new AtomicInteger());
      inFlight.put(u.key(), u);
      out.add(u);
    }
    return out;
  }

  private Upload encode(FixedBatch batch) throws IOException {
    Upload u =
        new Upload(
            keys.batch(batch),
            Encoding.ndjsonGzip(batch.jobs()),
            "application/x-ndjson",
            batch.jobs(),
            batch,
            new AtomicInteger());
    inFlight.put(u.key(), u);
    return u;
  }

  private Upload upload(Upload u) throws Exception {
    uploading.incrementAndGet();
    long t0 = System.nanoTime();
    try {
      if (u.batch() != null && u.batch().recoverable()) {
        // a recorded batch may be stored by someone else too (a replay, a rebuild, a frozen
        // worker resumed): same key, same content; the first write stays
        if (!store.putIfAbsent(u.key(), u.body(), u.contentType())) {
          LOG.debug("{} was stored already; acknowledging its payloads", u.key());
        }
      } else {
        store.put(u.key(), u.body(), u.contentType());
      }
    } catch (Exception e) {
      if (e instanceof InterruptedException || Thread.currentThread().isInterrupted()) {
        throw e;
      }
      int failures = u.failures().incrementAndGet();
      metrics.uploadRetries.increment();
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
    if (u.batch() != null) {
      source.ack(u.batch()); // the source records the batch stored
    } else {
      source.ack(u.jobs());
    }
    inFlight.remove(u.key());
    metrics.objectsStored.increment();
    metrics.bytesStored.increment(u.body().length);
    metrics.payloadsStored.increment(u.jobs().size());
    onStoreSuccess.run();
    return u;
  }

  /**
   * Waits for the run to end (the queue's admission must be closed first), at most {@code timeout};
   * then cancels it and waits for its threads to end.
   *
   * @return whether everything was stored in time
   */
  public boolean drain(Duration timeout) {
    RunHandle<Upload> r = run;
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
    RunHandle<Upload> r = run;
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
      for (Upload u : inFlight.values()) {
        groups.add(u.jobs());
      }
    }
    return groups;
  }
}
