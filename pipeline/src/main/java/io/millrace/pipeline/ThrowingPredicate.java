package io.millrace.pipeline;

/**
 * Like its {@code java.util.function} twin, but it may throw a checked exception. Used by filter.
 *
 * <p>A checked exception thrown here is handled like any other: by the stage's {@link ErrorPolicy}
 * (fail-fast by default, which ends the run with a {@link PipelineException} whose cause is the
 * exception). An implementation that blocks should respond to interruption: cancelling a run
 * interrupts every call in flight.
 */
@FunctionalInterface
public interface ThrowingPredicate<T> {
  /**
   * Applies this operation.
   *
   * @throws Exception any failure, handled by the stage's error policy
   */
  boolean test(T value) throws Exception;
}
