package io.millrace.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a client's CPU samples fall: each {@code jdk.ExecutionSample} of a JFR recording goes to
 * the first activity (in this order) that any frame of its stack belongs to, and its top frame's
 * method is counted too.
 */
final class JfrBreakdown {
  /** An activity: its name, and whether a frame's class belongs to it. */
  private record Activity(String name, Predicate<String> owns) {}

  private static final List<Activity> ACTIVITIES =
      List.of(
          new Activity(
              "aws-chunked encoding (chunk signatures, trailers)",
              c -> c.startsWith("software.amazon") && c.contains("Chunk")),
          new Activity(
              "SigV4 signing (canonical request, SHA-256 of the body, HMAC)",
              c -> c.contains(".signer.") || c.contains("Signer")),
          new Activity(
              "checksums (CRC32, MD5)",
              c -> c.contains("hecksum") || c.contains("CRC32") || c.contains("Md5")),
          new Activity(
              "HTTP client and sockets",
              c ->
                  c.startsWith("sun.net.")
                      || c.startsWith("org.apache.http")
                      || c.startsWith("java.net.")
                      || c.startsWith("sun.nio.ch")),
          new Activity(
              "rest of the SDK (pipeline, marshalling, retries, XML)",
              c -> c.startsWith("software.amazon")),
          new Activity("other (JDK, the harness, JFR)", c -> true));

  private JfrBreakdown() {}

  static Map<String, Integer> of(Path recording) throws IOException {
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (Activity a : ACTIVITIES) {
      counts.put(a.name(), 0);
    }
    Map<String, Integer> tops = PutHarness.newCounts();
    int total = 0;
    for (RecordedEvent e : RecordingFile.readAllEvents(recording)) {
      if (!e.getEventType().getName().equals("jdk.ExecutionSample") || e.getStackTrace() == null) {
        continue;
      }
      List<RecordedFrame> frames = e.getStackTrace().getFrames();
      if (frames.isEmpty()) {
        continue;
      }
      total++;
      PutHarness.count(counts, activity(frames));
      RecordedFrame top = frames.getFirst();
      PutHarness.count(tops, top.getMethod().getType().getName() + "." + top.getMethod().getName());
    }
    counts.put("(samples)", total);
    tops.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
        .limit(12)
        .forEach(t -> counts.put("top: " + t.getKey(), t.getValue()));
    return counts;
  }

  private static String activity(List<RecordedFrame> frames) {
    for (Activity a : ACTIVITIES) {
      for (RecordedFrame f : frames) {
        if (a.owns().test(f.getMethod().getType().getName())) {
          return a.name();
        }
      }
    }
    return ACTIVITIES.getLast().name();
  }

  static String render(String title, Map<String, Integer> counts) {
    int total = Math.max(1, counts.getOrDefault("(samples)", 0));
    StringBuilder sb = new StringBuilder();
    sb.append("\nCPU samples of the client, ").append(title).append(", ");
    sb.append(total).append(" samples:\n\n| where | share |\n| --- | ---: |\n");
    for (var e : counts.entrySet()) {
      if (!e.getKey().equals("(samples)")) {
        sb.append(String.format("| %s | %.1f%% |%n", e.getKey(), 100.0 * e.getValue() / total));
      }
    }
    return sb.toString();
  }
}
