/**
 * The patterns of the Go pipeline articles, rewritten with {@link io.millrace.pipeline.Pipeline}:
 * one runnable class per pattern, each with a test that asserts its output.
 *
 * <ol>
 *   <li>{@link io.millrace.examples.ProducerSink}: producer → sink.
 *   <li>{@link io.millrace.examples.GracefulShutdown}: cancel after a delay while items are slow.
 *   <li>{@link io.millrace.examples.FanOutFanIn}: to-lower on one worker per core, merged, then
 *       to-title.
 *   <li>{@link io.millrace.examples.ErrorHandling}: the step that fails on "foo" cancels the run.
 *   <li>{@link io.millrace.examples.GenericStep}: one typed, reusable stage function for any types.
 *   <li>{@link io.millrace.examples.BoundedConcurrency}: the semaphore pattern, {@code
 *       mapConcurrent(n, fn)}.
 * </ol>
 *
 * <p>{@link io.millrace.examples.Examples} runs them all, or one by name. Every example writes its
 * output lines to a {@code Consumer<String>} so tests can capture them; its {@code main} passes
 * {@code System.out::println}. {@code docs/from-go.md} puts each next to its Go original.
 */
package io.millrace.examples;
