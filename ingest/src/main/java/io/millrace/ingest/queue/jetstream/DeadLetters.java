package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.Message;
import io.nats.client.PublishOptions;
import io.nats.client.impl.NatsMessage;
import java.io.IOException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where messages go back to: redelivery later, or, for those that cannot be stored, a copy (data
 * and headers kept, with why, how often and which sequence) is published to the dead-letter
 * subject, captured by the stream {@code <stream>_DEAD}, then the original is terminated. Nothing
 * is dropped silently: if the copy cannot be published, the original is given back (after the
 * longest delay) instead. Thread-safe.
 */
final class DeadLetters {
  private static final Logger LOG = LoggerFactory.getLogger(DeadLetters.class);

  /** The longest delay before a message given back is delivered again. */
  static final long MAX_NAK_DELAY_MS = 30_000;

  private final Config.Nats cfg;
  private final NatsLink link;
  private final Metrics metrics;
  private final PublishOptions options;

  DeadLetters(Config.Nats cfg, NatsLink link, Metrics metrics) {
    this.cfg = cfg;
    this.link = link;
    this.metrics = metrics;
    this.options = PublishOptions.builder().expectedStream(cfg.deadStream()).build();
  }

  /**
   * Gives one message back: at once (shutdown, {@code cause} null), later with a delay that doubles
   * per delivery (1 s up to 30 s), or, at the {@code MaxDeliver}-th delivery, to the dead letters.
   */
  void settle(Delivery d, Throwable cause) {
    try {
      if (cause == null) {
        d.msg.nak();
      } else if (d.delivered >= cfg.maxDeliver()) {
        deadLetter(d, cause.toString());
      } else {
        long delay = Math.min(MAX_NAK_DELAY_MS, 1000L << Math.min(d.delivered - 1, 5));
        d.msg.nakWithDelay(Duration.ofMillis(delay));
        metrics.natsNaks.increment();
        LOG.warn(
            "gave message {} back to JetStream (delivery {} of {}), redelivered in {} ms: {}",
            d.sequence(),
            d.delivered,
            cfg.maxDeliver(),
            delay,
            cause.toString());
      }
    } catch (RuntimeException e) {
      // not connected: it is redelivered after AckWait anyway
      metrics.natsAckFailures.increment();
    }
  }

  /**
   * Moves one message to the dead letters, or gives it back if that fails.
   *
   * @param d the message, with its delivery count and jobs
   * @param reason why it cannot be stored
   */
  void deadLetter(Delivery d, String reason) {
    Message m = d.msg;
    JetStream js = link.state().js();
    String safe = reason.replaceAll("[\\r\\n]", " ");
    try {
      if (js == null) {
        throw new IllegalStateException("JetStream is not set up yet");
      }
      js.publish(
          NatsMessage.builder()
              .subject(cfg.deadSubject())
              .headers(Codec.deadLetterHeaders(m, safe, d.delivered))
              .data(m.getData())
              .build(),
          options);
      m.term();
      metrics.natsDeadLettered.increment();
      metrics.natsDeadLetteredPayloads.increment(d.jobs.size());
      metrics.errors.record(
          "dead-letter",
          d.jobs.size() + " payloads dead-lettered to " + cfg.deadSubject() + ": " + safe);
      LOG.error(
          "dead-lettered message {} ({} payloads) to {} after {} deliveries: {}",
          d.sequence(),
          d.jobs.size(),
          cfg.deadSubject(),
          d.delivered,
          safe);
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      LOG.warn(
          "could not dead-letter message {} ({}); giving it back instead",
          d.sequence(),
          e.toString());
      try {
        m.nakWithDelay(Duration.ofMillis(MAX_NAK_DELAY_MS));
      } catch (RuntimeException ignored) {
        // redelivered after AckWait
      }
    }
  }
}
