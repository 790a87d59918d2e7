package io.millrace.ingest.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * What the store holds, by the test payloads' own ids: every object of the bucket is read back
 * through the S3 API, each line is checked to be a payload exactly as {@link LoadClient} sent it,
 * and each id is counted.
 *
 * @param objects objects in the bucket
 * @param lines payload lines in all objects
 * @param counts id → how many lines hold it
 * @param foreign lines that are not a payload exactly as sent (at most 20 kept), with their key
 * @param foreignCount how many such lines there were
 * @param duplicatePairs "first key + later key" → how many ids both hold, for the ids stored twice
 */
public record StoredIds(
    int objects,
    long lines,
    Map<String, Integer> counts,
    List<String> foreign,
    long foreignCount,
    Map<String, Integer> duplicatePairs) {
  private static final Pattern LINE =
      Pattern.compile("\\{\"id\":\"([^\"\\\\]+)\",\"pad\":\"[A-Za-z0-9]*\"}");

  /** An id inside any message body, escaped as a JSON string value or not. */
  private static final Pattern ANY_ID =
      Pattern.compile("\\\\?\"id\\\\?\"\\s*:\\s*\\\\?\"([A-Za-z0-9._-]+)");

  public static StoredIds read(S3Client s3, String bucket) throws IOException {
    Map<String, List<String>> all = TestSupport.readAll(s3, bucket);
    Map<String, Integer> counts = new HashMap<>();
    Map<String, String> firstKey = new HashMap<>();
    Map<String, Integer> pairs = new TreeMap<>();
    List<String> foreign = new ArrayList<>();
    long foreignCount = 0;
    long lines = 0;
    for (var e : all.entrySet()) {
      for (String line : e.getValue()) {
        lines++;
        Matcher m = LINE.matcher(line);
        if (m.matches() && LoadClient.payload(m.group(1)).equals(line)) {
          String id = m.group(1);
          if (counts.merge(id, 1, Integer::sum) == 1) {
            firstKey.put(id, e.getKey());
          } else {
            pairs.merge(firstKey.get(id) + " + " + e.getKey(), 1, Integer::sum);
          }
        } else {
          foreignCount++;
          if (foreign.size() < 20) {
            foreign.add(e.getKey() + ": " + line);
          }
        }
      }
    }
    return new StoredIds(all.size(), lines, counts, foreign, foreignCount, pairs);
  }

  /** {@return the ids in a message body (a dead letter, whatever its envelope)} */
  public static List<String> idsIn(byte[] message) {
    List<String> ids = new ArrayList<>();
    Matcher m = ANY_ID.matcher(new String(message, StandardCharsets.UTF_8));
    while (m.find()) {
      ids.add(m.group(1));
    }
    return ids;
  }

  public int distinct() {
    return counts.size();
  }

  /** {@return the accepted ids that are not stored} */
  public Set<String> missing(Set<String> accepted) {
    Set<String> out = new HashSet<>();
    for (String id : accepted) {
      if (!counts.containsKey(id)) {
        out.add(id);
      }
    }
    return out;
  }

  /** {@return the ids stored more than once, with their counts, sorted} */
  public Map<String, Integer> duplicates() {
    Map<String, Integer> out = new TreeMap<>();
    counts.forEach(
        (id, n) -> {
          if (n > 1) {
            out.put(id, n);
          }
        });
    return out;
  }

  /** {@return the lines beyond the first of each id} */
  public long duplicateLines() {
    return lines - foreignCount - counts.size();
  }

  /** {@return the stored ids that were never accepted (a request that failed, yet was stored)} */
  public Set<String> notAccepted(Set<String> accepted) {
    Set<String> out = new HashSet<>(counts.keySet());
    out.removeAll(accepted);
    return out;
  }

  /** {@return a few of the given ids, for messages} */
  public static String sample(java.util.Collection<String> ids) {
    return ids.stream().sorted().limit(10).toList() + (ids.size() > 10 ? " ..." : "");
  }

  public String report(Set<String> accepted) {
    Map<String, Integer> d = duplicates();
    return "accepted "
        + accepted.size()
        + ", objects "
        + objects
        + ", stored lines "
        + lines
        + ", distinct "
        + distinct()
        + ", missing "
        + missing(accepted).size()
        + ", ids stored twice or more "
        + d.size()
        + " ("
        + duplicateLines()
        + " extra lines)"
        + ", not accepted yet stored "
        + notAccepted(accepted).size()
        + ", foreign lines "
        + foreignCount;
  }
}
