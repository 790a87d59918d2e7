package io.millrace.pipeline;

import java.time.Duration;

/**
 * A snapshot of one stage's counters.
 *
 * @param name the stage's name ({@link Pipeline#named(String)}, or a default such as {@code map#2})
 * @param in elements the stage took from its input
 * @param out elements the stage emitted
 * @param failed calls of the stage's function that threw (every attempt counts)
 * @param skipped elements dropped by {@link ErrorPolicy#skip()}
 * @param retried calls repeated by {@link ErrorPolicy#retry}
 * @param diverted elements handed to an {@link ErrorPolicy#divert} consumer
 * @param inFlight calls of the stage's function running now
 * @param buffered elements waiting in the stage's output buffer now
 * @param busy time spent in the stage's function (for {@code mapConcurrent}: summed over calls)
 */
public record StageStats(
    String name,
    long in,
    long out,
    long failed,
    long skipped,
    long retried,
    long diverted,
    int inFlight,
    int buffered,
    Duration busy) {}
