package io.millrace.ingest.queue;

/**
 * How the queue that handed out a {@link Job} acknowledges it: each implementation's own handle (an
 * entry of the in-memory queue, one payload of a JetStream message, a position in a log). Opaque to
 * everyone but that implementation, which rejects a job whose receipt is not its own. Receipts
 * carry the mutable per-job state (acknowledged or not), guarded by their queue.
 */
public interface Receipt {}
