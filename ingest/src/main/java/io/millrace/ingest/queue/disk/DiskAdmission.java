package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.AdmissionGate;
import io.millrace.ingest.queue.Budget;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The intake side of a {@link DiskJobQueue}. {@link #admit} answers a request: {@link
 * Admission.TooLarge} (413) if it is over the budget's limits or its record over the log's record
 * limit, {@link Admission.ShuttingDown} once admission is closed, {@link Admission.Replayed} for a
 * key admitted within the window ({@link IdempotencyKeys}), {@link Admission.QueueFull} (429) when
 * its share of the {@link Budget} cannot be taken, {@link Admission.WriteFailed} or {@link
 * Admission.Unavailable} (503) when its append fails or times out, and {@link Admission.Admitted}
 * (202) only once its record is durable. The budget is taken before the append and given back on
 * failure; a timed-out append the writer took ({@link LogTimeoutException#mayBeWritten()}) keeps it
 * until the next start. It also keeps the latest failed write for {@link #notReadyReason}.
 *
 * <p>Runs on many request threads and holds no lock while it waits for its fsync. It has no lock of
 * its own: the key window is guarded by the queue's {@link QueueState#lock} inside {@link
 * IdempotencyKeys}, the gate and the budget are thread-safe, the error fields are volatile.
 */
final class DiskAdmission {
  private final DiskLog log;
  private final DiskQueueOptions options;
  private final Budget budget;
  private final AdmissionGate gate;
  private final IdempotencyKeys keys;
  private volatile long lastErrorAtMillis = Long.MIN_VALUE;

  /**
   * The latest failed write while no request has been admitted since, or null. Only an admitted
   * request clears it: a small control record (a cut, a stored mark) may still fit on a full disk
   * where a request does not, and must not make the service look ready.
   */
  private volatile String admissionError;

  DiskAdmission(
      DiskLog log,
      DiskQueueOptions options,
      Budget budget,
      AdmissionGate gate,
      IdempotencyKeys keys) {
    this.log = log;
    this.options = options;
    this.budget = budget;
    this.gate = gate;
    this.keys = keys;
  }

  /** See {@link DiskJobQueue#admit}. */
  Admission admit(List<byte[]> payloads, String idempotencyKey) {
    long n = payloads.size();
    long size = Budget.sizeOf(payloads);
    String tooLarge = budget.tooLarge(n, size);
    if (tooLarge == null
        && n > 0
        && RecordFormat.payloadsRecordBytes(payloads, recordKey(idempotencyKey))
            > log.maxRecordBytes()) {
      tooLarge = "the request's record would be over the local log's record limit";
    }
    if (tooLarge != null) {
      return new Admission.TooLarge(tooLarge);
    }
    if (!gate.tryEnter()) {
      return new Admission.ShuttingDown();
    }
    try {
      if (idempotencyKey != null) {
        Admission seen = keys.claim(idempotencyKey);
        if (seen != null) {
          return seen;
        }
      }
      boolean admitted = false;
      try {
        Admission a = append(payloads, idempotencyKey, n, size);
        admitted = a instanceof Admission.Admitted;
        return a;
      } finally {
        if (idempotencyKey != null) {
          keys.release(idempotencyKey, admitted, n);
        }
      }
    } finally {
      gate.exit();
    }
  }

  /** {@return the key as kept in the record (UTF-8), or null if none or too long to keep} */
  private static byte[] recordKey(String key) {
    if (key == null) {
      return null;
    }
    byte[] b = key.getBytes(StandardCharsets.UTF_8);
    return b.length > RecordFormat.MAX_KEY_BYTES ? null : b;
  }

  private Admission append(List<byte[]> payloads, String key, long n, long size) {
    if (n == 0) {
      return new Admission.Admitted(0);
    }
    if (!budget.tryTake(n, size)) {
      return new Admission.QueueFull(1);
    }
    boolean keep = false;
    try {
      log.append(payloads, recordKey(key) == null ? null : key, options.writeTimeout());
      keep = true;
      admissionError = null;
      return new Admission.Admitted((int) n);
    } catch (LogException e) {
      return switch (e) {
        case LogIoException io ->
            new Admission.WriteFailed(
                io.reason() == LogIoException.Reason.DISK_FULL
                    ? Admission.WriteFailure.DISK_FULL
                    : Admission.WriteFailure.IO_ERROR,
                io.getMessage());
        case LogTimeoutException t -> {
          keep = t.mayBeWritten(); // it may land, and is then counted until stored
          yield new Admission.Unavailable(
              1,
              "the local log did not make the request durable within "
                  + options.writeTimeout().toMillis()
                  + " ms"
                  + (t.mayBeWritten()
                      ? "; it may have been written: retry with the same Idempotency-Key"
                      : "; nothing was written"));
        }
        case LogClosedException c -> new Admission.ShuttingDown();
      };
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Admission.Unavailable(1, "interrupted before the request was written");
    } finally {
      if (!keep) {
        budget.release(n, size);
      }
    }
  }

  /** Notes a failed write of the log (any record): {@link #notReadyReason} reports it a while. */
  void writeFailed(String message) {
    admissionError = message;
    lastErrorAtMillis = options.clock().millis();
  }

  /** See {@link DiskJobQueue#notReadyReason}. */
  String notReadyReason() {
    String error = admissionError;
    if (error != null
        && options.clock().millis() - lastErrorAtMillis < options.notReadyAfterError().toMillis()) {
      return error;
    }
    return budget.saturated() ? "queue saturated (" + budget + ")" : null;
  }
}
