package io.millrace.ingest.queue.memory;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.millrace.ingest.queue.DurableFiles;
import io.millrace.ingest.queue.Job;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Spill files: what shutdown could not store, written as NDJSON under {@code <dataDir>/spill/}, one
 * line per payload: {@code {"id":"<id>","at":<epoch-ms>,"payload":<payload as sent>}}.
 *
 * <p>{@code group-<first id>-<count>-<run id>.ndjson} holds one formed batch (replayed as the same
 * object, same key); {@code queued-<run id>-<time>.ndjson} holds payloads not yet in a batch. Every
 * name holds the id of the run that wrote it, so a spill never overwrites a file of an earlier run
 * (whose deletion follows). Files are written with {@link DurableFiles} (a forced temporary file
 * renamed atomically, then the folder forced), so a file is either complete or absent.
 */
public final class Spill {
  private static final JsonFactory FACTORY = new JsonFactory();

  /**
   * One payload read back from a spill file.
   *
   * @param id the id given at admission
   * @param at when it was admitted, epoch milliseconds
   * @param payload the payload as sent
   */
  record Line(String id, long at, byte[] payload) {}

  private Spill() {}

  /** {@return the spill folder under the service's data folder} */
  public static Path dir(Path dataDir) {
    return dataDir.resolve("spill");
  }

  /** {@return whether the folder holds any spill file} */
  public static boolean hasFiles(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return false;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.ndjson")) {
      return files.iterator().hasNext();
    }
  }

  /**
   * Writes the groups and the loose jobs.
   *
   * @return how many payloads were written
   */
  static int write(Path dir, String runId, List<List<Job>> groups, List<Job> loose)
      throws IOException {
    Files.createDirectories(dir);
    int n = 0;
    for (List<Job> g : groups) {
      if (g.isEmpty()) {
        continue;
      }
      // the run id makes the name new: a replayed group spilled again must not take the name of
      // the file it was replayed from, which is deleted once this spill is complete
      writeFile(
          dir.resolve("group-" + g.getFirst().id() + "-" + g.size() + "-" + runId + ".ndjson"), g);
      n += g.size();
    }
    if (!loose.isEmpty()) {
      writeFile(
          dir.resolve("queued-" + runId + "-" + System.currentTimeMillis() + ".ndjson"), loose);
      n += loose.size();
    }
    return n;
  }

  private static void writeFile(Path file, List<Job> jobs) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Job j : jobs) {
      out.write(
          ("{\"id\":\"" + j.id() + "\",\"at\":" + j.admittedAtMillis() + ",\"payload\":")
              .getBytes(StandardCharsets.US_ASCII));
      out.write(j.payload());
      out.write('}');
      out.write('\n');
    }
    DurableFiles.write(file, out.toByteArray());
  }

  /** Where {@link #moveInto} puts the payloads of spill files. */
  @FunctionalInterface
  public interface Sink {
    /**
     * Takes the payloads of one spill file, in file order, durably: when this returns they are safe
     * elsewhere and the file may be deleted.
     *
     * @param payloads the payloads, at least one
     * @throws Exception if they could not be taken (the file stays)
     */
    void take(List<byte[]> payloads) throws Exception;
  }

  /**
   * Moves every spill file of {@code dir} into {@code sink}, one file at a time in name order: a
   * file is deleted only after the sink has taken its payloads durably, so a failure or a crash
   * loses nothing (a crash between the sink's write and the deletion takes that file in twice).
   * Payload ids and admission times of the files are not kept. Stops at the first failure.
   *
   * @param dir the spill folder (missing: nothing to do)
   * @param sink where the payloads go
   * @return how many payloads were moved
   * @throws Exception a file that cannot be read, or the sink's failure; files not yet moved stay
   */
  public static int moveInto(Path dir, Sink sink) throws Exception {
    int n = 0;
    for (SpillFile f : load(dir)) {
      List<byte[]> payloads = new ArrayList<>(f.lines().size());
      for (Line l : f.lines()) {
        payloads.add(l.payload());
      }
      if (!payloads.isEmpty()) {
        sink.take(payloads);
        n += payloads.size();
      }
      f.delete();
    }
    return n;
  }

  /** Reads every complete spill file in {@code dir}; unparseable lines fail the start. */
  static List<SpillFile> load(Path dir) throws IOException {
    List<SpillFile> files = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return files;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.ndjson")) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        files.add(SpillFile.open(p, name.startsWith("group-")));
      }
    }
    files.sort(
        (a, b) -> a.path().getFileName().toString().compareTo(b.path().getFileName().toString()));
    return files;
  }

  static List<Line> read(Path p) throws IOException {
    byte[] all = Files.readAllBytes(p);
    List<Line> jobs = new ArrayList<>();
    int start = 0;
    while (start < all.length) {
      int end = start;
      while (end < all.length && all[end] != '\n') {
        end++;
      }
      if (end > start) {
        jobs.add(parseLine(p, all, start, end));
      }
      start = end + 1;
    }
    return jobs;
  }

  /**
   * The bytes of the value at the parser's current token, as written (spill files hold payloads
   * compact already); leaves the parser on its last token.
   */
  private static byte[] rawValue(JsonParser jp, byte[] all, int base) throws IOException {
    JsonToken t = jp.currentToken();
    int from = base + (int) jp.currentTokenLocation().getByteOffset();
    if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
      jp.skipChildren();
    } else {
      jp.finishToken(); // strings are read lazily: read to the closing quote
    }
    int to = base + (int) jp.currentLocation().getByteOffset();
    return java.util.Arrays.copyOfRange(all, from, to);
  }

  private static Line parseLine(Path p, byte[] all, int start, int end) throws IOException {
    String id = null;
    long at = -1;
    byte[] payload = null;
    try (JsonParser jp = FACTORY.createParser(all, start, end - start)) {
      if (jp.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not an object");
      }
      while (jp.nextToken() == JsonToken.FIELD_NAME) {
        String field = jp.currentName();
        jp.nextToken();
        switch (field) {
          case "id" -> id = jp.getText();
          case "at" -> at = jp.getLongValue();
          case "payload" -> payload = rawValue(jp, all, start);
          default -> jp.skipChildren();
        }
      }
    } catch (IOException e) {
      throw new IOException("spill file " + p + " has a bad line: " + e.getMessage(), e);
    }
    if (id == null || at < 0 || payload == null || !id.matches("[A-Za-z0-9-]{1,100}")) {
      throw new IOException("spill file " + p + " has a line without id, at or payload");
    }
    return new Line(id, at, payload);
  }
}
