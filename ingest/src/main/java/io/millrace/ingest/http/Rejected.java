package io.millrace.ingest.http;

/**
 * Thrown by a step of request handling that answers with a {@link Problem}; the handler catches it
 * and sends the problem. Carries no stack trace: it is control flow, and cheap under overload.
 */
final class Rejected extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient Problem problem;

  Rejected(Problem problem) {
    super(null, null, false, false);
    this.problem = problem;
  }

  /** {@return what to answer} */
  Problem problem() {
    return problem;
  }
}
