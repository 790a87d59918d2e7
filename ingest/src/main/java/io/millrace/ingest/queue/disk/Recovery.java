package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.RecordFormat.SEGMENT_HEADER_BYTES;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import io.millrace.ingest.queue.memory.IdempotencyWindow;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Opens an existing log: reads every segment, checks every record, cuts a torn tail off the last
 * segment, and rebuilds the state of acknowledgements from the control records.
 *
 * <p>Why cutting at the first bad record of the last segment loses no acknowledged append: the
 * writer writes a batch, forces it, and only then acknowledges its appends and starts the next
 * batch. A crash can therefore leave damage only in the last, unforced batch, which lies at the end
 * of the last segment (a roll-over forces the old segment before writing the new one). The same
 * argument makes damage in any earlier segment real corruption: that is refused, not repaired.
 */
final class Recovery {
  /** The state a log starts from. */
  record Recovered(
      Segments segments,
      Segment active,
      long activeEnd,
      long nextPosition,
      long nextByte,
      long nextSegmentNumber,
      Acks acks,
      RecoveryReport report,
      List<KeyedAppend> keys) {}

  /**
   * An append made under an {@code Idempotency-Key}, read back from its record.
   *
   * @param key the key
   * @param appendedAtMillis when it was appended (its admission time)
   * @param payloads how many payloads it held
   */
  record KeyedAppend(String key, long appendedAtMillis, int payloads) {}

  private final ChannelOpener opener;
  private final DiskLogOptions options;
  private final List<Segment> chain = new ArrayList<>();
  private final List<Long> ends = new ArrayList<>();
  private final List<String> removed = new ArrayList<>();
  private final TreeMap<Long, BatchRange> cuts = new TreeMap<>();
  private final ArrayDeque<KeyedAppend> keys = new ArrayDeque<>(); // in log order, the latest kept
  private Acks acks;
  private long expectedPosition;
  private long expectedByte;
  private long base = -1;
  private long lastCutEnd = -1;
  private long records;
  private long payloads;
  private long lastSampleMillis = Long.MIN_VALUE;
  private TornTail torn;

  private Recovery(ChannelOpener opener, DiskLogOptions options) {
    this.opener = opener;
    this.options = options;
  }

  /**
   * {@return the recovered state of the log in {@code dir}, or null if it holds no segment}
   *
   * @throws LogCorruptedException if a segment other than the last is damaged or one is missing
   */
  static Recovered run(Path dir, ChannelOpener opener, DiskLogOptions options) throws IOException {
    List<Path> files;
    try (Stream<Path> list = Files.list(dir)) {
      files =
          list.filter(p -> RecordFormat.segmentNumber(p.getFileName().toString()) >= 0)
              .sorted()
              .toList();
    }
    if (files.size() > 1 && !hasHeader(opener, files.get(files.size() - 1))) {
      // a spare segment (preallocated, zeros, never rolled onto) or one whose roll-over never got
      // its header forced: it holds nothing acknowledged
      Path spare = files.get(files.size() - 1);
      Files.delete(spare);
      SegmentFiles.syncDirectory(dir);
      files = files.subList(0, files.size() - 1);
      Recovery r = new Recovery(opener, options);
      r.removed.add(spare.getFileName().toString());
      return r.scan(files);
    }
    return files.isEmpty() ? null : new Recovery(opener, options).scan(files);
  }

  private static boolean hasHeader(ChannelOpener opener, Path path) throws IOException {
    try (FileChannel ch = opener.open(path, READ)) {
      ByteBuffer header = ByteBuffer.allocate(SEGMENT_HEADER_BYTES);
      while (header.hasRemaining() && ch.read(header, header.position()) >= 0) {}
      return RecordFormat.checkSegmentHeader(header.flip()) == null;
    }
  }

  private Recovered scan(List<Path> files) throws IOException {
    for (int i = 0; i < files.size(); i++) {
      Path path = files.get(i);
      long number = RecordFormat.segmentNumber(path.getFileName().toString());
      if (i > 0 && number != chain.get(chain.size() - 1).number + 1) {
        throw new LogCorruptedException("segment files missing before " + path);
      }
      scanSegment(path, number, i == files.size() - 1);
    }
    if (chain.isEmpty()) {
      return null; // the only file never got its header: a log that never held a record
    }
    for (int i = 0; i + 1 < chain.size(); i++) {
      chain.get(i).seal(ends.get(i), chain.get(i + 1));
    }
    long sealed = 0;
    for (int i = 0; i + 1 < ends.size(); i++) {
      sealed += ends.get(i);
    }
    long watermark = chain.get(0).basePosition;
    List<BatchRange> pending = new ArrayList<>();
    for (BatchRange cut : cuts.values()) {
      if (cut.last() >= watermark) {
        if (cut.first() < watermark) {
          throw new LogCorruptedException("batch " + cut + " is pending but partly deleted");
        }
        pending.add(cut);
        acks.cut(cut);
      }
    }
    acks.cutUpTo(lastCutEnd);
    long firstUncut = acks.nextCut();
    Segment active = chain.get(chain.size() - 1);
    RecoveryReport report =
        new RecoveryReport(
            chain.size(),
            records,
            payloads,
            expectedPosition,
            firstUncut,
            pending,
            acks.unstoredPayloads(expectedPosition),
            acks.unstoredBytes(expectedByte),
            Optional.ofNullable(torn),
            removed);
    return new Recovered(
        new Segments(chain.get(0), chain.size(), sealed),
        active,
        ends.get(ends.size() - 1),
        expectedPosition,
        expectedByte,
        active.number + 1,
        acks,
        report,
        List.copyOf(keys));
  }

  private void scanSegment(Path path, long number, boolean last) throws IOException {
    try (FileChannel ch =
        opener.open(
            path,
            last
                ? new java.nio.file.OpenOption[] {READ, WRITE}
                : new java.nio.file.OpenOption[] {READ})) {
      long size = ch.size();
      ByteBuffer header = ByteBuffer.allocate(SEGMENT_HEADER_BYTES);
      while (header.hasRemaining() && ch.read(header, header.position()) >= 0) {}
      String problem = RecordFormat.checkSegmentHeader(header.flip());
      if (problem != null) {
        if (!last || (chain.isEmpty() && number != 0)) {
          throw new LogCorruptedException(path + ": " + problem);
        }
        ch.close();
        Files.delete(path); // created, never got a record: its header was never forced
        SegmentFiles.syncDirectory(path.getParent());
        removed.add(path.getFileName().toString());
        return;
      }
      long basePosition = RecordFormat.headerBasePosition(header);
      long baseByte = RecordFormat.headerBaseByte(header);
      if (chain.isEmpty()) {
        expectedPosition = basePosition;
        expectedByte = baseByte;
        base = basePosition;
        acks = new Acks(basePosition, baseByte);
      } else if (basePosition != expectedPosition || baseByte != expectedByte) {
        throw new LogCorruptedException(
            path + " starts at position " + basePosition + ", expected " + expectedPosition);
      }
      chain.add(new Segment(number, basePosition, baseByte, path));
      RecordScanner scanner =
          new RecordScanner(ch, SEGMENT_HEADER_BYTES, size, options.maxRecordBytes());
      for (RecordScanner.Step step; (step = scanner.next()) != RecordScanner.Step.END; ) {
        problem = step == RecordScanner.Step.BAD ? scanner.problem() : apply(scanner);
        if (problem != null) {
          long at = scanner.recordOffset();
          long dirty = SegmentFiles.lastNonZeroEnd(ch, at, size);
          if (step == RecordScanner.Step.BAD && dirty == at) {
            size = at; // zeros from here on: preallocated space, the end of the records
            break;
          }
          if (!last) {
            throw new LogCorruptedException(path + " at offset " + at + ": " + problem);
          }
          ch.truncate(at);
          ch.force(true);
          torn = new TornTail(path.getFileName().toString(), at, dirty - at, problem);
          size = at;
          break;
        }
      }
      ends.add(size);
    }
  }

  /** Applies the payloads of a PAYLOADS body; {@return null, or what is wrong with it} */
  private String payloads(ByteBuffer body) {
    String problem = RecordFormat.checkPayloads(body);
    if (problem != null) {
      return problem;
    }
    if (body.getLong(0) != expectedPosition || body.getLong(8) != expectedByte) {
      return "payloads at position " + body.getLong(0) + ", expected " + expectedPosition;
    }
    long millis = body.getLong(16);
    if (millis - lastSampleMillis >= 1000 || lastSampleMillis == Long.MIN_VALUE) {
      acks.sample(expectedPosition, millis);
      lastSampleMillis = millis;
    }
    int count = body.getInt(24);
    expectedPosition += count;
    expectedByte += RecordFormat.payloadBytes(body);
    payloads += count;
    return null;
  }

  /** Applies one record to the state; {@return null, or what is wrong with it} */
  private String apply(RecordScanner scanner) {
    ByteBuffer body = scanner.body();
    switch (scanner.type()) {
      case RecordFormat.PAYLOADS -> {
        String problem = payloads(body);
        if (problem != null) {
          return problem;
        }
      }
      case RecordFormat.KEYED_PAYLOADS -> {
        ByteBuffer part = RecordFormat.payloadsPart(body);
        if (part == null) {
          return "malformed keyed payloads record";
        }
        String problem = payloads(part);
        if (problem != null) {
          return problem;
        }
        keys.addLast(new KeyedAppend(RecordFormat.key(body), part.getLong(16), part.getInt(24)));
        chain.getLast().markKeyed();
        if (keys.size() > IdempotencyWindow.MAX_KEYS) {
          keys.removeFirst();
        }
      }
      case RecordFormat.CUT -> {
        if (body.limit() != RecordFormat.RANGE_BODY_BYTES) {
          return "malformed cut record";
        }
        BatchRange cut = RecordFormat.range(body);
        if (cut.last() >= expectedPosition || (lastCutEnd >= 0 && cut.first() != lastCutEnd)) {
          return "cut " + cut + " does not follow the payloads and the cut before it";
        }
        lastCutEnd = cut.last() + 1;
        cuts.put(cut.first(), cut);
      }
      case RecordFormat.STORED -> {
        if (body.limit() != RecordFormat.RANGE_BODY_BYTES) {
          return "malformed stored record";
        }
        BatchRange stored = RecordFormat.range(body);
        BatchRange cut = cuts.remove(stored.first());
        if (cut == null || cut.last() != stored.last()) {
          if (stored.last() >= Math.max(base, lastCutEnd)) {
            return "stored marker " + stored + " without its cut";
          } // else: a batch cut and stored before (a repeated marker), or deleted with its cut
        } else {
          acks.stored(cut);
        }
      }
      default -> {
        return "unknown record type " + scanner.type();
      }
    }
    records++;
    return null;
  }
}
