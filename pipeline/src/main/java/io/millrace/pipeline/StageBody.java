package io.millrace.pipeline;

/** What a thread of a run does: a stage's loop, or one call of a concurrent stage. */
@FunctionalInterface
interface StageBody {
  /**
   * Runs on a thread of the run; whatever it throws goes to the run as a failure of its stage.
   *
   * @throws Exception the failure
   */
  void run() throws Exception;
}
