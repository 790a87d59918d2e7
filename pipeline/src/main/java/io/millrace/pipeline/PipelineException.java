package io.millrace.pipeline;

/**
 * A run ended because a stage failed. {@link #getCause()} is the first failure; {@link #stage()}
 * names the stage it came from (also in the message); failures that happened while the run was
 * being cancelled because of it are attached as {@linkplain #getSuppressed() suppressed}.
 */
public class PipelineException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String stage;

  /**
   * Creates the exception.
   *
   * @param stage the name of the stage that failed first
   * @param cause the first failure
   */
  public PipelineException(String stage, Throwable cause) {
    super("stage '" + stage + "' failed: " + cause, cause);
    this.stage = stage;
  }

  /** {@return the name of the stage that failed first} */
  public String stage() {
    return stage;
  }
}
