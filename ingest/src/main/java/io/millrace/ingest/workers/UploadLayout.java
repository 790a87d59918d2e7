package io.millrace.ingest.workers;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Job;
import java.util.List;

/**
 * How payloads become objects, from the configuration: the key template ({@code
 * MILLRACE_KEY_TEMPLATE}, empty for the mode's default, which renders exactly today's keys) and the
 * batch encoding ({@code MILLRACE_COMPRESSION}), with the suffix and {@code Content-Encoding} that
 * go with it. Per-payload objects are the payload as sent: {@code .json}, no encoding. Immutable
 * and thread-safe.
 */
public final class UploadLayout {
  private final Config.Mode mode;
  private final KeyTemplate template;
  private final Compression compression;

  private UploadLayout(Config.Mode mode, KeyTemplate template, Compression compression) {
    this.mode = mode;
    this.template = template;
    this.compression = compression;
  }

  /**
   * Reads and checks the layout; {@code Main} calls it before anything starts, so a bad template
   * stops the service at once with a message that names the variable, the position and what was
   * expected there.
   *
   * @param config the configuration
   * @return the layout
   * @throws IllegalArgumentException naming {@code MILLRACE_KEY_TEMPLATE} (or {@code
   *     MILLRACE_COMPRESSION}) and what is wrong
   */
  public static UploadLayout of(Config config) {
    Compression compression;
    try {
      compression = Compression.parse(config.compression());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("MILLRACE_COMPRESSION: " + e.getMessage(), e);
    }
    boolean batched = config.mode() == Config.Mode.BATCHED;
    KeyTemplate.Unit unit = batched ? KeyTemplate.Unit.BATCH : KeyTemplate.Unit.PAYLOAD;
    String ext = batched ? compression.suffix() : ".json";
    KeyTemplate template;
    try {
      template =
          config.keyTemplate().isEmpty()
              ? KeyTemplate.defaultFor(unit, config.prefix(), ext)
              : KeyTemplate.parse(config.keyTemplate(), unit, config.prefix(), ext);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "MILLRACE_KEY_TEMPLATE is not accepted ("
              + config.mode().configName()
              + " mode, suffix "
              + ext
              + "): "
              + e.getMessage(),
          e);
    }
    return new UploadLayout(config.mode(), template, compression);
  }

  /** {@return the key template} */
  public KeyTemplate template() {
    return template;
  }

  /** {@return the batch encoding (batched mode)} */
  public Compression compression() {
    return compression;
  }

  /** {@return whether keys depend on payload fields (batches are cut per partition)} */
  public boolean partitioned() {
    return template.partitioned();
  }

  /**
   * {@return the key of one batch object}
   *
   * @param partition the partition all its payloads share
   * @param firstAdmittedAtMillis its first payload's admission time
   * @param name its name, derived from its fixed batch
   */
  String batchKey(KeyTemplate.Partition partition, long firstAdmittedAtMillis, String name) {
    return template.render(partition, firstAdmittedAtMillis, name);
  }

  /** {@return the key of a batch object named as sources without a record name it} */
  String batchKey(KeyTemplate.Partition partition, List<Job> jobs) {
    return batchKey(partition, jobs.getFirst().admittedAtMillis(), FixedBatch.nameOf(jobs));
  }

  /** {@return the key of a one-payload object} */
  String singleKey(Job job) {
    return template.render(template.partition(job.payload()), job.admittedAtMillis(), job.id());
  }

  /** {@return the {@code Content-Encoding} of batch objects, null for none} */
  String batchContentEncoding() {
    return compression.contentEncoding().orElse(null);
  }

  @Override
  public String toString() {
    return "UploadLayout[" + mode.configName() + ", " + template.text() + ", " + compression + "]";
  }
}
