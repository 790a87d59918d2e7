package io.millrace.ingest.workers;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.store.ObjectStore;
import io.millrace.pipeline.ErrorPolicy;
import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.PipelineStats;
import io.millrace.pipeline.RunHandle;
import io.millrace.pipeline.RunListener;
import io.millrace.pipeline.StageStats;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;

/**
 * The worker pool, as one millrace pipeline run.
 *
 * <p>Batched mode: {@code queue → batch(maxPayloads, maxAge) → split by bytes → encode NDJSON.gz →
 * mapConcurrentUnordered(MAX_WORKERS, upload) with retry → ack}. Per-payload mode: {@code queue →
 * mapConcurrentUnordered(MAX_WORKERS, upload one .json) with retry → ack}. A job's budget in the
 * queue is released only after its object is stored.
 *
 * <p>With the in-memory queue, uploads retry without limit (exponential backoff with jitter, 50 ms
 * doubling to 5 s; an S3 {@code 503 SlowDown} adds its own growing pause): while the store is down
 * the queue fills and admission answers 429, and shutdown spills what is left. With a {@linkplain
 * JobQueue#durable() durable} queue an upload is tried three times, then its jobs are {@linkplain
 * JobQueue#release released} to be redelivered later. Nothing is dropped.
 *
 * <p>Keys derive only from ids given at admission, so a retry or a replay rewrites the same key: a
 * batch is named {@code <first payload id>-<payload count>}.
 */
public final class Workers {
  private static final Logger LOG = LoggerFactory.getLogger(Workers.class);
  private static final DateTimeFormatter DAY =
      DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter HOUR =
      DateTimeFormatter.ofPattern("HH").withZone(ZoneOffset.UTC);

  private final Config config;
  private final JobQueue queue;
  private final ObjectStore store;
  private final Metrics metrics;
  private final Runnable onStoreFailure;
  private final Runnable onStoreSuccess;

  /** Formed batches not yet stored, by key; spilled as groups if shutdown cannot store them. */
  private final Map<String, Upload> inFlight = new ConcurrentHashMap<>();

  private final AtomicInteger uploading = new AtomicInteger();
  private volatile RunHandle<Upload> run;

  /** An object to store: its key, bytes, and the jobs it holds. */
  record Upload(
      String key, byte[] body, String contentType, List<Job> jobs, AtomicInteger failures) {}

  public Workers(
      Config config,
      JobQueue queue,
      ObjectStore store,
      Metrics metrics,
      Runnable onStoreFailure,
      Runnable onStoreSuccess) {
    this.config = config;
    this.queue = queue;
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
   * Starts the run.
   *
   * @param replayGroups formed batches read back from spill files, stored again as they were
   */
  public void start(List<List<Job>> replayGroups) {
    ErrorPolicy retry =
        queue.durable()
            // a few tries here, then the jobs go back to the durable queue: redelivered later (to
            // any worker) with a growing delay, or dead-lettered after MaxDeliver deliveries
            ? ErrorPolicy.retry(3, Duration.ofMillis(200))
                .withMaxBackoff(Duration.ofSeconds(2))
                .orElse(ErrorPolicy.divert((item, e) -> giveBack((Upload) item, e)))
            : ErrorPolicy.retry(Integer.MAX_VALUE, Duration.ofMillis(50))
                .withMaxBackoff(Duration.ofSeconds(5));
    Pipeline<Job> source = Pipeline.from(queue.jobs()).named("queue");
    Pipeline<Upload> uploads;
    if (config.mode() == Config.Mode.BATCHED) {
      Pipeline<List<Job>> formed =
          source
              .batch(config.batchMaxPayloads(), Duration.ofMillis(config.batchMaxAgeMs()))
              .named("batch")
              .flatMap(this::splitByBytes)
              .named("split");
      Pipeline<List<Job>> all =
          replayGroups.isEmpty() ? formed : Pipeline.merge(formed, Pipeline.from(replayGroups));
      int encoders = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
      uploads =
          all.mapConcurrentUnordered(encoders, this::encode)
              .named("encode")
              .mapConcurrentUnordered(config.maxWorkers(), this::upload)
              .onError(retry)
              .named("upload");
    } else {
      uploads =
          source
              .map(this::single)
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
                      // nothing is stored any more: admission fills up and answers 429, readiness
                      // fails
                      LOG.error(
                          "the worker pipeline failed; payloads are no longer stored", failure);
                      onStoreFailure.run();
                    }
                  }
                })
            .start(u -> {});
  }

  private void giveBack(Upload u, Throwable e) {
    inFlight.remove(u.key());
    LOG.warn(
        "upload of {} failed {} times; its {} payloads go back to the queue: {}",
        u.key(),
        u.failures().get(),
        u.jobs().size(),
        e.toString());
    queue.release(u.jobs(), e);
  }

  /**
   * Cuts a count/age batch further so no object holds more than the byte limit (at least one job).
   */
  private List<List<Job>> splitByBytes(List<Job> batch) {
    long limit = config.batchMaxBytes();
    List<List<Job>> out = new ArrayList<>(1);
    int from = 0;
    long size = 0;
    for (int i = 0; i < batch.size(); i++) {
      long len = batch.get(i).payload().length + 1L;
      if (i > from && size + len > limit) {
        out.add(batch.subList(from, i));
        from = i;
        size = 0;
      }
      size += len;
    }
    out.add(batch.subList(from, batch.size()));
    return out;
  }

  private String keyPrefix(long atMillis) {
    Instant at = Instant.ofEpochMilli(atMillis);
    String p = config.prefix().isEmpty() ? "" : config.prefix() + "/";
    return p + "dt=" + DAY.format(at) + "/hour=" + HOUR.format(at) + "/";
  }

  private Upload single(Job job) {
    Upload u =
        new Upload(
            keyPrefix(job.admittedAtMillis()) + job.id() + ".json",
            job.payload(),
            "application/json",
            List.of(job),
            new AtomicInteger());
    inFlight.put(u.key(), u);
    return u;
  }

  private Upload encode(List<Job> batch) throws IOException {
    int size = 0;
    for (Job j : batch) {
      size += j.payload().length + 1;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, size / 3));
    try (GZIPOutputStream gz = new FastGzip(out)) {
      for (Job j : batch) {
        gz.write(j.payload());
        gz.write('\n');
      }
    }
    Job first = batch.getFirst();
    Upload u =
        new Upload(
            keyPrefix(first.admittedAtMillis()) + first.id() + "-" + batch.size() + ".ndjson.gz",
            out.toByteArray(),
            "application/x-ndjson",
            List.copyOf(batch),
            new AtomicInteger());
    inFlight.put(u.key(), u);
    return u;
  }

  private Upload upload(Upload u) throws Exception {
    uploading.incrementAndGet();
    long t0 = System.nanoTime();
    try {
      store.put(u.key(), u.body(), u.contentType());
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
    queue.ack(u.jobs());
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
   * Splits what is not stored into formed batches (kept whole, same key on replay) and loose jobs.
   * Call after the run has ended.
   */
  public Leftovers leftovers() {
    List<Job> unacked = queue.unacknowledged();
    Set<Job> inGroups = Collections.newSetFromMap(new IdentityHashMap<>());
    List<List<Job>> groups = new ArrayList<>();
    if (config.mode() == Config.Mode.BATCHED) {
      for (Upload u : inFlight.values()) {
        groups.add(u.jobs());
        inGroups.addAll(u.jobs());
      }
    }
    List<Job> loose = new ArrayList<>();
    for (Job j : unacked) {
      if (!inGroups.contains(j)) {
        loose.add(j);
      }
    }
    return new Leftovers(groups, loose);
  }

  public record Leftovers(List<List<Job>> groups, List<Job> loose) {
    public int payloads() {
      int n = loose.size();
      for (List<Job> g : groups) {
        n += g.size();
      }
      return n;
    }
  }

  /** GZIP at level 1: compression runs on the workers' cores, speed matters more than ratio. */
  private static final class FastGzip extends GZIPOutputStream {
    FastGzip(ByteArrayOutputStream out) throws IOException {
      super(out, 8192);
      def.setLevel(Deflater.BEST_SPEED);
    }
  }
}
