package io.millrace.ingest;

import io.millrace.ingest.config.Config;
import java.util.logging.Level;

/**
 * Entry point: {@code java -jar millrace-ingest.jar [--flag=value ...]}; {@code --help} lists them.
 */
public final class Main {
  // kept so the level sticks (java.util.logging holds loggers weakly)
  private static final java.util.logging.Logger HELIDON =
      java.util.logging.Logger.getLogger("io.helidon");

  private Main() {}

  /**
   * Starts the service and keeps it running until SIGTERM/SIGINT.
   *
   * @param args flags; see {@code --help}
   * @throws Exception never on purpose: start-up errors exit with status 2 after a message
   */
  public static void main(String[] args) throws Exception {
    long t0 = System.nanoTime();
    Config config;
    try {
      config = Config.parse(System.getenv(), args);
    } catch (Config.HelpRequested h) {
      System.out.print(Config.help());
      return;
    } catch (Config.ConfigException e) {
      System.err.println("millrace-ingest: " + e.getMessage());
      System.exit(2);
      return;
    }
    HELIDON.setLevel(Level.WARNING);
    // the shutdown path is in place before anything can be admitted: a SIGTERM during the start
    // waits for it to end, then drains and spills like any other
    IngestService service = IngestService.create(config);
    Runtime.getRuntime().addShutdownHook(new Thread(service::shutdown, "millrace-shutdown"));
    try {
      service.startUp();
    } catch (Exception e) {
      System.err.println("millrace-ingest: could not start: " + e);
      System.exit(1);
      return;
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    String host = config.host().equals("0.0.0.0") ? "localhost" : config.host();
    String url = "http://" + host + ":" + service.port();
    StringBuilder sb = new StringBuilder();
    sb.append("millrace-ingest ready in ")
        .append(ms)
        .append(" ms, listening on ")
        .append(config.host())
        .append(':')
        .append(service.port())
        .append('\n');
    sb.append("  role: ").append(config.role()).append(", queue: ");
    if (config.sharedQueue()) {
      sb.append("NATS JetStream stream ")
          .append(config.nats().stream())
          .append(" at ")
          .append(config.nats().serversWithoutPasswords());
      String why = service.queue().notReadyReason();
      if (why != null) {
        sb.append(" (not ready yet: ").append(why).append(')');
      }
      sb.append('\n');
    } else if (config.queueKind() == Config.QueueKind.DISK) {
      sb.append("local log at ")
          .append(io.millrace.ingest.queue.disk.DiskJobQueue.dir(config.dataDir()))
          .append(" (durable: 202 after fsync)\n");
    } else {
      sb.append("memory (volatile: a crash loses what is not stored)\n");
    }
    if (!config.roleKind().stores()) {
      sb.append("  store: none on an ingest node (workers store)\n");
    } else if (service.embeddedStore() != null) {
      sb.append("  store: embedded S3 at ")
          .append(service.storeEndpoint())
          .append(", bucket ")
          .append(config.bucket())
          .append("; objects are files under ")
          .append(service.embeddedStore().baseDir().resolve(config.bucket()))
          .append('\n');
    } else {
      sb.append("  store: ")
          .append(config.s3Endpoint())
          .append(", bucket ")
          .append(config.bucket())
          .append('\n');
    }
    sb.append("  mode: ")
        .append(config.mode().configName())
        .append(", prefix '")
        .append(config.prefix())
        .append('\'');
    if (config.queueKind() == Config.QueueKind.MEMORY) {
      sb.append(", spill folder ").append(IngestService.spillDir(config));
    }
    sb.append('\n');
    if (service.replayedPayloads() > 0) {
      sb.append("  replaying ")
          .append(service.replayedPayloads())
          .append(
              config.queueKind() == Config.QueueKind.DISK
                  ? " payloads not yet stored from the local log\n"
                  : " spilled payloads\n");
    }
    if (!config.roleKind().admits()) {
      System.out.print(sb);
      System.out.flush();
      return;
    }
    sb.append("  try:   curl -i -X POST -H 'Content-Type: application/json'");
    if (!config.apiKeys().isEmpty()) {
      sb.append(" -H 'Authorization: Bearer <key>'");
    }
    sb.append(" -d '{\"payloads\":[{\"hello\":\"world\"}]}' ").append(url).append("/v1/payloads\n");
    System.out.print(sb);
    System.out.flush();
  }
}
