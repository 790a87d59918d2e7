package io.millrace.ingest.queue.disk;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.AdmissionGate;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.Intake;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobIterator;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.Redelivery;
import io.millrace.ingest.queue.memory.IdempotencyWindow;
import io.millrace.ingest.queue.memory.Spill;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable local queue ({@code MILLRACE_QUEUE=disk}): {@link Intake} and {@link JobSource} over
 * a {@link DiskLog}. A request is admitted as one record of the log and answered only once that
 * record is forced to disk (concurrent requests share one fsync); a batch is fixed in the log
 * ({@link DiskLog#cut}) before it is uploaded, named from its range of positions, and recorded
 * stored ({@link DiskLog#markStored}) once its objects are stored. So kill -9 or a power cut at any
 * moment loses nothing that was answered 202, and a replay rewrites the same objects.
 *
 * <p><b>Budget.</b> {@link #budget()} counts payloads (and bytes) admitted and not yet recorded
 * stored: the whole backlog in the log, bounded by {@code MAX_QUEUE} and {@code
 * MILLRACE_QUEUE_MAX_BYTES}. It is taken before the append and given back when the stored record is
 * durable; beyond it admission answers {@link Admission.QueueFull}. A request whose append timed
 * out after the writer took it ({@link LogTimeoutException#mayBeWritten()}) keeps its budget until
 * the next start, since it may be in the log.
 *
 * <p><b>Heap.</b> Only what is being batched and uploaded is in memory: {@link #jobs()} reads the
 * log on its consumer's thread and waits while the jobs handed out and not yet recorded stored
 * reach the in-flight bound ({@link DiskQueueOptions#maxInFlightPayloads}, {@link
 * DiskQueueOptions#maxInFlightBytes}), whatever the backlog on disk.
 *
 * <p><b>Ids and names.</b> A job's id is {@code <log id>-<position as 12 hex digits>}, a batch's
 * name {@code <log id>-<first position>-<last position>} (20 digits each); the log id is drawn once
 * when the log folder is created and kept in {@code LOG_ID} beside the segments, so a replay gives
 * the same ids and names, and a new log (a wiped folder) never reuses the keys of an old one.
 *
 * <p><b>Acknowledgements.</b> A fixed batch is recorded stored once all its jobs are acknowledged
 * (whole with {@link #ack(FixedBatch)}, or job by job in per-payload mode). A job acknowledged
 * without having been fixed is recorded stored (as a batch of its own run) once every job before it
 * is fixed or acknowledged; until then it is counted as held, and a crash delivers it again. A
 * stored record that fails to be written (disk full) is retried at the next acknowledgement, fix or
 * shutdown; a crash meanwhile re-uploads the batch under the same key (no duplicate object).
 *
 * <p><b>Idempotency-Key</b>s are remembered for {@link DiskQueueOptions#duplicateWindowMs} across
 * restarts and crashes: each admitted request's key is kept in its record of the log (with its
 * admission time and payload count), written in the same fsync as its payloads; at start the window
 * is rebuilt from the keyed records within the window, and the log keeps stored segments on disk
 * until their last write is a window old, so every such record is still there. So a request resent
 * under its key within the window after a kill -9 (whether or not it got its 202) is answered
 * {@link Admission.Replayed} with the same count, never stored twice. Limits: at most {@link
 * IdempotencyWindow#MAX_KEYS} keys; a key over 65535 bytes of UTF-8 is remembered in memory only;
 * an empty request is not written, so its key is forgotten by a restart (it stored nothing either
 * way); the window's age after a restart is measured by the clock against the recorded times, so a
 * clock stepped back extends it and one stepped forward shortens it.
 *
 * <p>Thread-safe. {@link #admit} runs on many request threads and holds no lock while it waits for
 * its fsync; {@link #fix} and the recording of acknowledgements are serialized by one lock (batches
 * follow each other in the log); the state of handed-out jobs is guarded by another, never held
 * across I/O.
 *
 * <p><b>Parts.</b> This class is the facade; the work is done by package-private parts sharing one
 * {@link QueueState} (the handed-out jobs, under its one lock): {@link DiskAdmission} (the intake
 * side, with the key window {@link IdempotencyKeys}), {@link StartReplay} (what a start takes in),
 * {@link JobReader} (hands jobs out) and {@link Cuts} (cuts, acknowledgements, stored records; it
 * holds the fix lock). {@link LogIdFile} keeps the log id.
 */
public final class DiskJobQueue implements JobQueue, Intake, JobSource {
  private static final Logger LOG = LoggerFactory.getLogger(DiskJobQueue.class);

  private final DiskLog log;
  private final Budget budget;
  private final String logId;
  private final DiskQueueOptions options;
  private final AdmissionGate gate = new AdmissionGate();
  private final AtomicBoolean iterated = new AtomicBoolean();
  private final QueueState state;
  private final DiskAdmission admission;
  private final JobReader reader;
  private final Cuts cuts;
  private final List<List<Job>> replayed;
  private final int replayedPayloads;
  private final int migratedPayloads;

  private DiskJobQueue(
      DiskLog log,
      DiskQueueOptions options,
      long maxPayloads,
      long maxBytes,
      String logId,
      Path spillDir)
      throws Exception {
    this.log = log;
    this.options = options;
    this.logId = logId;
    this.state = new QueueState(logId);
    this.budget = new Budget(maxPayloads, maxBytes);
    IdempotencyKeys keys = new IdempotencyKeys(state.lock, options);
    keys.restore(log.recoveredKeys());
    this.admission = new DiskAdmission(log, options, budget, gate, keys);
    this.reader = new JobReader(log, options, state, gate);
    this.cuts = new Cuts(log, options, state, budget);
    RecoveryReport report = log.recovery();
    LOG.info("local log {}: {}", log.directory(), report.summary());
    // batches cut before the restart and not stored: rebuilt from their ranges, same names
    this.replayed = StartReplay.rebuildPending(log, state, report);
    state.readerPosition = log.firstUncutPosition();
    this.migratedPayloads = spillDir == null ? 0 : StartReplay.migrate(log, options, spillDir);
    budget.take(log.unstoredPayloads(), log.unstoredBytes());
    this.replayedPayloads = (int) Math.min(Integer.MAX_VALUE, budget.payloads());
  }

  /**
   * Opens the queue of a service under {@code <MILLRACE_DATA_DIR>/queue}: recovers the log,
   * rebuilds the batches it was uploading, appends the memory queue's old spill files (from {@code
   * <MILLRACE_DATA_DIR>/spill}, each removed once its append is durable), and registers the log's
   * metrics.
   *
   * @param config limits, batch sizes, data folder
   * @param metrics where the log's meters go
   * @return the queue, ready to admit
   * @throws Exception if the log cannot be opened or recovered, or a spill file cannot be read or
   *     appended (the start fails; nothing is skipped)
   */
  public static DiskJobQueue open(Config config, Metrics metrics) throws Exception {
    return open(
        dir(config.dataDir()),
        config.maxQueue(),
        config.queueMaxBytes(),
        DiskQueueOptions.of(config),
        logOptions(recordBytesFor(config)),
        Spill.dir(config.dataDir()),
        metrics);
  }

  /** {@return the log's folder under the service's data folder} */
  public static Path dir(Path dataDir) {
    return dataDir.resolve("queue");
  }

  /** 64 MiB segments, or larger so that one record of the largest request fits. */
  private static DiskLogOptions logOptions(int recordBytes) {
    DiskLogOptions d = DiskLogOptions.defaults().withMaxRecordBytes(recordBytes);
    return d.withSegmentBytes(Math.max(d.segmentBytes(), recordBytes + (1L << 20)));
  }

  private static int recordBytesFor(Config config) {
    // a request's payloads are at most its body, plus 4 bytes of length each (at least 2 bytes per
    // payload in the body) and the record header
    long need = config.maxBodyBytes() * 3 + 4096;
    return (int) Math.max(16 << 20, Math.min(Integer.MAX_VALUE - 8, need));
  }

  /**
   * Opens a queue on the log in {@code dir}.
   *
   * @param dir the log's folder
   * @param maxPayloads the budget's payload limit ({@code MAX_QUEUE})
   * @param maxBytes the budget's byte limit ({@code MILLRACE_QUEUE_MAX_BYTES})
   * @param options timeouts, in-flight bound, windows
   * @param logOptions the log's options; its listener is wrapped to feed {@code metrics}
   * @param spillDir spill files to take in, or null
   * @param metrics where the log's meters go
   * @return the queue
   * @throws Exception see {@link #open(Config, Metrics)}
   */
  public static DiskJobQueue open(
      Path dir,
      long maxPayloads,
      long maxBytes,
      DiskQueueOptions options,
      DiskLogOptions logOptions,
      Path spillDir,
      Metrics metrics)
      throws Exception {
    return open(
        dir, maxPayloads, maxBytes, options, logOptions, spillDir, metrics, ChannelOpener.DEFAULT);
  }

  static DiskJobQueue open(
      Path dir,
      long maxPayloads,
      long maxBytes,
      DiskQueueOptions options,
      DiskLogOptions logOptions,
      Path spillDir,
      Metrics metrics,
      ChannelOpener opener)
      throws Exception {
    LogMeters hooks = new LogMeters(logOptions.listener(), metrics);
    DiskLog log = DiskLog.open(dir, logOptions.withListener(hooks), opener);
    log.retainStored(options.duplicateWindowMs());
    try {
      DiskJobQueue q =
          new DiskJobQueue(
              log, options, maxPayloads, maxBytes, LogIdFile.readOrCreate(dir), spillDir);
      hooks.admission = q.admission;
      LogMeters.gauges(metrics, log, q::inFlightPayloads);
      return q;
    } catch (Exception | Error e) {
      log.close();
      throw e;
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Read from the log's own bookkeeping (to within a second), whatever the backlog on disk.
   */
  @Override
  public OptionalLong oldestUnstoredAgeMillis(long nowMillis) {
    return OptionalLong.of(log.stats().oldestUnstoredAgeMillis());
  }

  // ------------------------------------------------------------------ Intake

  @Override
  public Admission admit(List<byte[]> payloads, String idempotencyKey) {
    return admission.admit(payloads, idempotencyKey);
  }

  @Override
  public void closeAdmission() {
    gate.close();
    reader.admissionClosed();
  }

  /**
   * {@return why admission would fail now: a write of the log failed within {@link
   * DiskQueueOptions#notReadyAfterError} and no request has been admitted since, or the budget is
   * 90% taken; or null}
   */
  @Override
  public String notReadyReason() {
    return admission.notReadyReason();
  }

  // ------------------------------------------------------------------ JobSource

  @Override
  public Iterator<Job> jobs() {
    return JobIterator.once(iterated, reader::take);
  }

  /**
   * Cuts the batch in the log (durable before this returns), unless it is a batch rebuilt at start,
   * which is returned as recorded. Jobs acknowledged before being fixed that lie ahead of the batch
   * are recorded stored first.
   *
   * @throws IOException wrapping the log's failure (disk full, I/O error, timeout): nothing was cut
   */
  @Override
  public FixedBatch fix(List<Job> batch) throws IOException, InterruptedException {
    return cuts.fix(batch);
  }

  @Override
  public void ack(Collection<Job> stored) {
    cuts.ack(stored);
  }

  /** Acknowledges the batch's jobs: it is recorded stored, and its budget released. */
  @Override
  public void ack(FixedBatch stored) {
    ack(stored.jobs());
  }

  /** {@return the in-flight bound, {@link DiskQueueOptions#maxInFlightPayloads}} */
  @Override
  public long handOutLimit() {
    return options.maxInFlightPayloads();
  }

  /** {@return the in-flight bound, {@link DiskQueueOptions#maxInFlightBytes}} */
  @Override
  public long handOutByteLimit() {
    return options.maxInFlightBytes();
  }

  /** {@return empty: jobs wait in the log; uploads retry until they are stored} */
  @Override
  public Optional<Redelivery> redelivery() {
    return Optional.empty();
  }

  /**
   * {@return every job not yet recorded stored: those handed out (acknowledged ones whose record is
   * still to be written among them) and, read from the log, those not yet handed out. Reads the
   * backlog from disk: for tests and diagnostics. A snapshot, exact while nothing is handed out}
   */
  @Override
  public List<Job> unacknowledged() {
    return reader.unacknowledged();
  }

  /** {@return the batches cut before the restart and not stored, rebuilt, to store again whole} */
  @Override
  public List<List<Job>> replayedBatches() {
    return replayed;
  }

  /** {@return payloads not stored at start: the log's backlog, spill files taken in included} */
  @Override
  public int replayedPayloads() {
    return replayedPayloads;
  }

  /** {@return payloads of the memory queue's spill files this start took into the log} */
  public int migratedPayloads() {
    return migratedPayloads;
  }

  /**
   * Nothing to write: everything admitted is in the log already. Acknowledged runs are recorded
   * stored, formed batches not yet fixed are fixed where they are next (so a restart replays them
   * whole), failed stored records retried.
   */
  @Override
  public Handover handOver(List<List<Job>> formedBatches) {
    return cuts.handOver(formedBatches);
  }

  /** Ends the iteration; everything stays in the log for the next start. */
  @Override
  public void abandon(Throwable cause) {
    reader.abandon();
  }

  // ------------------------------------------------------------------ JobQueue

  @Override
  public Optional<Intake> intake() {
    return Optional.of(this);
  }

  @Override
  public Optional<JobSource> source() {
    return Optional.of(this);
  }

  @Override
  public Budget budget() {
    return budget;
  }

  /** {@return payloads handed out (or rebuilt) and not yet recorded stored} */
  long inFlightPayloads() {
    return state.inFlightPayloads();
  }

  /** {@return whether {@link #close} was called} */
  boolean isClosed() {
    return reader.isClosed();
  }

  /** {@return the log underneath (tests, metrics)} */
  DiskLog log() {
    return log;
  }

  /** {@return this log's id, the first part of every job id and batch name} */
  public String logId() {
    return logId;
  }

  /**
   * Closes admission, waits for requests inside admission (up to the write timeout and a second),
   * retries failed stored records, ends the iteration and closes the log (its writer thread ends).
   * Everything not recorded stored stays in the log for the next start. Idempotent.
   */
  @Override
  public void close() {
    closeAdmission();
    boolean interrupted = false;
    try {
      gate.awaitEmpty(options.writeTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      interrupted = true;
    }
    cuts.recordPending();
    reader.close();
    log.close();
    reader.closeReaderAfterLog();
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
