package io.millrace.ingest.queue;

import java.util.Collection;

/**
 * A job source that can take jobs back to deliver them again later, perhaps to another process
 * (JetStream). Workers give an upload's jobs back after a few failed attempts instead of retrying
 * in place for ever.
 */
public interface Redelivery {

  /**
   * Gives jobs back unstored: the whole of each message (or unit) they came in goes back and is
   * delivered again later (after a delay that grows with each delivery), or, once delivered too
   * often, moved to the dead letters. Their budget is released at once; acknowledging them
   * afterwards does nothing.
   *
   * @param jobs jobs handed out and not acknowledged
   * @param cause why they could not be stored, or null at shutdown (delivered again at once)
   */
  void giveBack(Collection<Job> jobs, Throwable cause);
}
