package io.millrace.ingest.workers;

import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Object keys from a template ({@code MILLRACE_KEY_TEMPLATE}), e.g. {@code
 * {prefix}/type={$.type}/dt={date}/hour={hour}/{batch}{ext}}.
 *
 * <p>Placeholders:
 *
 * <ul>
 *   <li>{@code {prefix}/}: {@code MILLRACE_PREFIX} and a slash, or nothing when the prefix is
 *       empty. Every template starts with it, so every key lies under the prefix.
 *   <li>{@code {date}}, {@code {hour}}: the UTC day ({@code YYYY-MM-DD}) and hour ({@code HH}) of
 *       the time given to {@link #render} (a batch's first payload's admission time).
 *   <li>{@code {batch}} (batched mode, required there) or {@code {id}} (per-payload mode, required
 *       there): the batch's or the payload's id, so that keys never collide.
 *   <li>{@code {ext}}: the object's suffix, e.g. {@code .ndjson.gz} for gzip batches, {@code .json}
 *       for single payloads.
 *   <li>{@code {$.field}}, {@code {$.a.b}}: a payload field's value (keys of {@code [A-Za-z0-9_-]},
 *       at most {@value #MAX_DEPTH} deep, at most {@value FieldExtractor#MAX_PATHS} fields), made
 *       safe as {@link PartitionValue} says: a missing, null or non-scalar value is {@code
 *       __missing__}; others are percent-encoded outside {@code [A-Za-z0-9._-]}, and capped at
 *       {@value PartitionValue#MAX_LENGTH} characters.
 * </ul>
 *
 * <p>Literal text is limited to {@code [A-Za-z0-9!_.*'()=-]} and {@code /}; a template has no empty
 * segment ({@code //}), no trailing {@code /}, and no segment {@code .} or {@code ..}. So a
 * rendered key starts with the prefix, has as many segments as its template, and never climbs out
 * of the prefix. A template that breaks a rule fails to parse, with the position and what was
 * expected there.
 *
 * <p>Immutable and thread-safe.
 */
public final class KeyTemplate {
  /** What one key names. */
  public enum Unit {
    /** A batch object ({@code {batch}} required). */
    BATCH,
    /** One payload's object ({@code {id}} required). */
    PAYLOAD
  }

  /** Today's batched layout: {@code <prefix>/dt=YYYY-MM-DD/hour=HH/<batch-id><ext>}. */
  public static final String DEFAULT_BATCH = "{prefix}/dt={date}/hour={hour}/{batch}{ext}";

  /** Today's per-payload layout: {@code <prefix>/dt=YYYY-MM-DD/hour=HH/<payload-id><ext>}. */
  public static final String DEFAULT_PAYLOAD = "{prefix}/dt={date}/hour={hour}/{id}{ext}";

  /** The longest key S3 accepts, in bytes (all our keys are ASCII). */
  static final int MAX_KEY_LENGTH = 1024;

  /** The longest batch or payload id {@link #render} accepts. */
  static final int MAX_NAME_LENGTH = 128;

  static final int MAX_DEPTH = 4;

  private static final Pattern PREFIX =
      Pattern.compile("([A-Za-z0-9!_.*'()=-]+(/[A-Za-z0-9!_.*'()=-]+)*)?");
  private static final Pattern EXTENSION = Pattern.compile("(\\.[A-Za-z0-9]+)+");
  private static final List<String> KNOWN_SUFFIXES =
      List.of(".ndjson.gz", ".ndjson.zst", ".ndjson", ".json");

  /** The partition of one payload: its field values, made safe, in template order. */
  public record Partition(List<String> values) {
    /** The partition of every payload when the template reads no field. */
    public static final Partition NONE = new Partition(List.of());

    /** Copies the values. */
    public Partition {
      values = List.copyOf(values);
    }
  }

  /** A template that does not parse; the message says where and what was expected. */
  public static final class SyntaxException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final int position;

    SyntaxException(String template, int position, String problem) {
      super("at position " + (position + 1) + " of '" + template + "': " + problem);
      this.position = position;
    }

    /** {@return where the problem is, 0-based} */
    public int position() {
      return position;
    }
  }

  sealed interface Part {}

  record Literal(String text) implements Part {}

  enum Fixed implements Part {
    PREFIX,
    DATE,
    HOUR,
    NAME,
    EXT
  }

  record Field(int index) implements Part {}

  private final String text;
  private final Unit unit;
  private final String prefix;
  private final String extension;
  private final Part[] parts;
  private final List<String> fields;
  private final FieldExtractor extractor;
  private volatile Day lastDay = new Day(Long.MIN_VALUE, "");

  private record Day(long epochDay, String text) {}

  private KeyTemplate(
      String text, Unit unit, String prefix, String extension, List<Part> parts, List<String> f) {
    this.text = text;
    this.unit = unit;
    this.prefix = prefix;
    this.extension = extension;
    this.parts = parts.toArray(Part[]::new);
    this.fields = List.copyOf(f);
    List<List<String>> paths = new ArrayList<>();
    for (String field : f) {
      paths.add(Arrays.asList(field.substring(2).split("\\.")));
    }
    this.extractor = new FieldExtractor(paths);
  }

  /**
   * Parses a template.
   *
   * @param template the template text
   * @param unit what each key names: a batch or a payload
   * @param prefix the key prefix ({@code MILLRACE_PREFIX}): segments of {@code
   *     [A-Za-z0-9!_.*'()=-]} joined by {@code /}, none of them only dots; may be empty
   * @param extension what {@code {ext}} stands for, e.g. {@code .ndjson.gz}
   * @return the template
   * @throws SyntaxException if the template breaks a rule (position and expectation in the message)
   * @throws IllegalArgumentException if the prefix or the extension is not accepted
   */
  public static KeyTemplate parse(String template, Unit unit, String prefix, String extension) {
    Objects.requireNonNull(template, "template");
    Objects.requireNonNull(unit, "unit");
    if (prefix == null || !PREFIX.matcher(prefix).matches() || prefix.length() > 512) {
      throw new IllegalArgumentException(
          "prefix '" + prefix + "' is not segments of [A-Za-z0-9!_.*'()=-] joined by /");
    }
    for (String seg : prefix.split("/")) {
      if (!seg.isEmpty() && seg.chars().allMatch(c -> c == '.')) {
        throw new IllegalArgumentException("prefix '" + prefix + "' has a segment of dots only");
      }
    }
    if (extension == null || !EXTENSION.matcher(extension).matches()) {
      throw new IllegalArgumentException(
          "extension '" + extension + "' is not of the form .abc or .abc.de");
    }
    return new KeyTemplateParser(template, unit, prefix, extension).parse();
  }

  /**
   * {@return the default template for {@code unit}: today's layout}
   *
   * @param unit batch or payload
   * @param prefix the key prefix, as for {@link #parse}
   * @param extension the suffix, as for {@link #parse}
   */
  public static KeyTemplate defaultFor(Unit unit, String prefix, String extension) {
    return parse(unit == Unit.BATCH ? DEFAULT_BATCH : DEFAULT_PAYLOAD, unit, prefix, extension);
  }

  static KeyTemplate of(
      String text, Unit unit, String prefix, String ext, List<Part> parts, List<String> fields) {
    return new KeyTemplate(text, unit, prefix, ext, parts, fields);
  }

  static List<String> knownSuffixes() {
    return KNOWN_SUFFIXES;
  }

  /** {@return the template as given} */
  public String text() {
    return text;
  }

  /** {@return what each key names} */
  public Unit unit() {
    return unit;
  }

  /** {@return the field placeholders, in order, as written: {@code $.type}, {@code $.a.b}} */
  public List<String> fields() {
    return fields;
  }

  /** {@return whether keys depend on payload fields, so batches must be cut per partition} */
  public boolean partitioned() {
    return !fields.isEmpty();
  }

  /**
   * {@return the payload's partition: its field values made safe; {@link Partition#NONE} when the
   * template reads no field}
   *
   * @param payload one JSON value (compact, as admitted); never fails, whatever the bytes
   */
  public Partition partition(byte[] payload) {
    if (fields.isEmpty()) {
      return Partition.NONE;
    }
    String[] raw = extractor.extract(payload);
    String[] safe = new String[raw.length];
    for (int i = 0; i < raw.length; i++) {
      safe[i] = PartitionValue.of(raw[i]);
    }
    return new Partition(Arrays.asList(safe));
  }

  /**
   * Renders one key.
   *
   * @param partition the partition from {@link #partition} (of every payload of a batch)
   * @param epochMillis the time whose UTC day and hour {@code {date}} and {@code {hour}} show
   * @param name the batch id ({@link Unit#BATCH}) or the payload id: 1 to {@value #MAX_NAME_LENGTH}
   *     characters of {@code [A-Za-z0-9._-]}, not only dots
   * @return the key
   * @throws IllegalArgumentException if {@code name} is not accepted, or the partition does not
   *     have one value per field
   */
  public String render(Partition partition, long epochMillis, String name) {
    if (partition.values().size() != fields.size()) {
      throw new IllegalArgumentException(
          "partition " + partition + " does not have one value per field of " + fields);
    }
    checkName(name);
    StringBuilder sb = new StringBuilder(prefix.length() + 96);
    for (Part part : parts) {
      switch (part) {
        case Literal l -> sb.append(l.text());
        case Field f -> sb.append(partition.values().get(f.index()));
        case Fixed fixed -> {
          switch (fixed) {
            case PREFIX -> {
              if (!prefix.isEmpty()) {
                sb.append(prefix).append('/');
              }
            }
            case DATE -> sb.append(day(epochMillis));
            case HOUR -> twoDigits(sb, (int) (Math.floorMod(epochMillis, 86_400_000L) / 3_600_000));
            case NAME -> sb.append(name);
            case EXT -> sb.append(extension);
          }
        }
      }
    }
    return sb.toString();
  }

  private static void checkName(String name) {
    boolean dotsOnly = true;
    int n = name.length();
    if (n == 0 || n > MAX_NAME_LENGTH) {
      throw new IllegalArgumentException("id of " + n + " characters: " + abbreviate(name));
    }
    for (int i = 0; i < n; i++) {
      char c = name.charAt(i);
      if (!PartitionValue.safe(c)) {
        throw new IllegalArgumentException(
            "id has a character outside [A-Za-z0-9._-]: " + abbreviate(name));
      }
      dotsOnly &= c == '.';
    }
    if (dotsOnly) {
      throw new IllegalArgumentException("id of dots only: " + name);
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? "'" + s + "'" : "'" + s.substring(0, 80) + "...'";
  }

  private String day(long epochMillis) {
    long epochDay = Math.floorDiv(epochMillis, 86_400_000L);
    Day d = lastDay;
    if (d.epochDay() != epochDay) {
      LocalDate date = LocalDate.ofEpochDay(epochDay);
      StringBuilder sb = new StringBuilder(10);
      int y = date.getYear();
      if (y < 0 || y > 9999) {
        throw new IllegalArgumentException("year " + y + " is outside 0000-9999");
      }
      sb.append((char) ('0' + y / 1000)).append((char) ('0' + y / 100 % 10));
      twoDigits(sb, y % 100);
      sb.append('-');
      twoDigits(sb, date.getMonthValue());
      sb.append('-');
      twoDigits(sb, date.getDayOfMonth());
      d = new Day(epochDay, sb.toString());
      lastDay = d;
    }
    return d.text();
  }

  private static void twoDigits(StringBuilder sb, int v) {
    sb.append((char) ('0' + v / 10)).append((char) ('0' + v % 10));
  }

  @Override
  public String toString() {
    return "KeyTemplate["
        + text
        + ", "
        + unit
        + ", prefix='"
        + prefix
        + "', ext="
        + extension
        + "]";
  }
}
