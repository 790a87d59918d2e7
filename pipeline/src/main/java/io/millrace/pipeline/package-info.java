/**
 * Millrace pipelines: typed, concurrent data pipelines on virtual threads.
 *
 * <p>Start from {@link io.millrace.pipeline.Pipeline}: a source ({@code from}, {@code generate},
 * {@code merge}), operators ({@code map}, {@code mapConcurrent}, {@code filter}, {@code flatMap},
 * {@code batch}, ...), and a terminal operation ({@code forEach}, {@code toList}, {@code start}).
 * {@link io.millrace.pipeline.Channel} is a Go-like bounded channel that pipelines can read from,
 * and {@link io.millrace.pipeline.Select} is Go's {@code select} over channels.
 *
 * <p>Every run is structured (nothing it starts outlives it), bounded (constant memory for an
 * endless source), fail-fast by default ({@link io.millrace.pipeline.PipelineException}), and
 * cancellable ({@link io.millrace.pipeline.RunHandle#cancel()}, deadlines, interrupts). The package
 * has no dependencies beyond the JDK and uses no intrinsic monitors (only java.util.concurrent
 * locks), so virtual threads are never pinned by it.
 */
package io.millrace.pipeline;
