package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamSubscription;
import io.nats.client.KeyValueManagement;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.DiscardPolicy;
import io.nats.client.api.KeyValueConfiguration;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import java.io.IOException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Provisioning: the work-queue stream (work-queue retention, file storage, discard-new at {@code
 * MILLRACE_NATS_MAX_BYTES}), its dead-letter stream {@code <stream>_DEAD}, and, for a role that
 * stores, the durable pull consumer and this process's subscription to it. Each is created if
 * missing, so any node may start first; a stream that exists is used as it is.
 *
 * <p>Called by the keeper thread only.
 */
final class Topology {
  private static final Logger LOG = LoggerFactory.getLogger(Topology.class);
  private static final int STREAM_NOT_FOUND = 10059;
  private static final int STREAM_NAME_IN_USE = 10058;

  private final Config.Nats cfg;
  private final boolean subscribes;

  /** What {@link #ensure} set up: the JetStream context, and the subscription (or null). */
  record Provisioned(JetStream js, JetStreamSubscription sub) {}

  Topology(Config.Nats cfg, boolean subscribes) {
    this.cfg = cfg;
    this.subscribes = subscribes;
  }

  /** {@return whether a JetStream error code means the stream does not exist} */
  static boolean streamNotFound(int apiErrorCode) {
    return apiErrorCode == STREAM_NOT_FOUND;
  }

  /**
   * Creates what is missing and, for a role that stores, subscribes again.
   *
   * @param nc a connected connection
   * @param old the subscription to replace, or null
   * @return the context and the new subscription
   */
  Provisioned ensure(Connection nc, JetStreamSubscription old)
      throws IOException, JetStreamApiException {
    JetStreamManagement jsm = nc.jetStreamManagement();
    ensureStream(jsm, cfg.stream(), cfg.subject(), RetentionPolicy.WorkQueue);
    ensureStream(jsm, cfg.deadStream(), cfg.deadSubject(), RetentionPolicy.Limits);
    JetStream js = nc.jetStream();
    if (subscribes && cfg.ledgerTtlMs() > 0) {
      ensureLedger(nc);
    }
    if (!subscribes) {
      return new Provisioned(js, null);
    }
    if (old != null) {
      try {
        old.unsubscribe();
      } catch (RuntimeException e) {
        // gone with its connection or consumer
      }
    }
    jsm.addOrUpdateConsumer(
        cfg.stream(),
        ConsumerConfiguration.builder()
            .durable(cfg.consumer())
            .filterSubject(cfg.subject())
            .ackPolicy(AckPolicy.Explicit)
            .ackWait(Duration.ofMillis(cfg.ackWaitMs()))
            // MaxDeliver is enforced here, not by the server: a message the server stops
            // delivering would stay in the stream unseen; ours go to the dead letters
            .maxDeliver(-1)
            .maxAckPending(cfg.maxAckPending())
            .build());
    JetStreamSubscription sub =
        js.subscribe(cfg.subject(), PullSubscribeOptions.bind(cfg.stream(), cfg.consumer()));
    return new Provisioned(js, sub);
  }

  /** Creates the batch ledger's bucket ({@link Ledger}) unless it exists; one value per key. */
  private void ensureLedger(Connection nc) throws IOException, JetStreamApiException {
    KeyValueManagement kvm = nc.keyValueManagement();
    try {
      kvm.getStatus(cfg.ledgerBucket());
      return;
    } catch (JetStreamApiException e) {
      if (!streamNotFound(e.getApiErrorCode())) {
        throw e;
      }
    }
    try {
      kvm.create(
          KeyValueConfiguration.builder()
              .name(cfg.ledgerBucket())
              .storageType(StorageType.File)
              .replicas(cfg.replicas())
              .maxHistoryPerKey(1)
              .ttl(Duration.ofMillis(cfg.ledgerTtlMs()))
              .build());
      LOG.info("created the batch ledger, key-value bucket {}", cfg.ledgerBucket());
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() != STREAM_NAME_IN_USE) {
        throw e;
      }
    }
  }

  private void ensureStream(
      JetStreamManagement jsm, String name, String subject, RetentionPolicy retention)
      throws IOException, JetStreamApiException {
    StreamInfo info;
    try {
      info = jsm.getStreamInfo(name);
    } catch (JetStreamApiException e) {
      if (!streamNotFound(e.getApiErrorCode())) {
        throw e;
      }
      info = null;
    }
    if (info == null) {
      StreamConfiguration sc =
          StreamConfiguration.builder()
              .name(name)
              .subjects(subject)
              .retentionPolicy(retention)
              .storageType(StorageType.File)
              .replicas(cfg.replicas())
              .duplicateWindow(Duration.ofMillis(cfg.duplicateWindowMs()))
              .maxBytes(cfg.maxBytes())
              // a full stream refuses new messages (admission answers 429); it never drops old ones
              .discardPolicy(DiscardPolicy.New)
              .build();
      try {
        jsm.addStream(sc);
        LOG.info("created JetStream stream {} for {}", name, subject);
      } catch (JetStreamApiException e) {
        if (e.getApiErrorCode() != STREAM_NAME_IN_USE) { // another node created it just now
          throw e;
        }
      }
      return;
    }
    if (!info.getConfiguration().getSubjects().contains(subject)) {
      throw new IllegalStateException(
          "stream "
              + name
              + " exists but does not capture subject "
              + subject
              + " (its subjects: "
              + info.getConfiguration().getSubjects()
              + ")");
    }
    if (info.getConfiguration().getReplicas() != cfg.replicas()) {
      LOG.warn(
          "stream {} has {} replica(s), MILLRACE_NATS_REPLICAS says {}; the stream is left as it"
              + " is",
          name,
          info.getConfiguration().getReplicas(),
          cfg.replicas());
    }
  }
}
