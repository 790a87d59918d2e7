package io.millrace.ingest.workers;

import io.millrace.ingest.workers.KeyTemplate.Field;
import io.millrace.ingest.workers.KeyTemplate.Fixed;
import io.millrace.ingest.workers.KeyTemplate.Literal;
import io.millrace.ingest.workers.KeyTemplate.Part;
import io.millrace.ingest.workers.KeyTemplate.SyntaxException;
import io.millrace.ingest.workers.KeyTemplate.Unit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Parses one {@link KeyTemplate}'s text; the rules are in that class's documentation. */
final class KeyTemplateParser {
  private static final String START = "{prefix}/";
  private static final String LITERAL_CHARS = "!_.*'()=-";

  private final String t;
  private final Unit unit;
  private final String prefix;
  private final String ext;
  private final List<Part> parts = new ArrayList<>();
  private final List<String> fields = new ArrayList<>();
  private final StringBuilder literal = new StringBuilder();
  private int segmentStart;
  private boolean segmentHasPlaceholder;
  private boolean named;
  private boolean hasExt;
  private long worstLength;

  KeyTemplateParser(String template, Unit unit, String prefix, String ext) {
    this.t = template;
    this.unit = unit;
    this.prefix = prefix;
    this.ext = ext;
  }

  KeyTemplate parse() {
    if (!t.startsWith(START)) {
      throw error(0, "a template starts with {prefix}/ (so that every key lies under the prefix)");
    }
    parts.add(Fixed.PREFIX);
    worstLength = prefix.length() + 1;
    segmentStart = START.length();
    int i = START.length();
    while (i < t.length()) {
      char c = t.charAt(i);
      if (c == '{') {
        int close = t.indexOf('}', i + 1);
        int open = t.indexOf('{', i + 1);
        if (close < 0 || (open >= 0 && open < close)) {
          throw error(i, "this { is not closed: expected a placeholder such as {date} or {$.type}");
        }
        placeholder(i, t.substring(i + 1, close));
        i = close + 1;
      } else if (c == '}') {
        throw error(i, "a } without its {");
      } else if (c == '/') {
        endSegment(i);
        literal.append('/');
        segmentStart = i + 1;
        i++;
      } else if (literalChar(c)) {
        literal.append(c);
        i++;
      } else {
        throw error(
            i,
            "character "
                + shown(c)
                + " is not accepted in a key (accepted: A-Za-z0-9"
                + LITERAL_CHARS
                + " and /, or a placeholder in {})");
      }
    }
    endSegment(t.length());
    flushLiteral();
    if (!named) {
      throw error(
          t.length(),
          unit == Unit.BATCH
              ? "a batch key needs {batch}, so that no two batches share a key"
              : "a per-payload key needs {id}, so that no two payloads share a key");
    }
    if (!hasExt) {
      for (String known : KeyTemplate.knownSuffixes()) {
        if (t.endsWith(known) && !known.equals(ext)) {
          throw error(
              t.length() - known.length(),
              "the template ends with "
                  + known
                  + " but these objects are "
                  + ext
                  + ": write {ext} for the suffix that matches the encoding");
        }
      }
    }
    if (worstLength > KeyTemplate.MAX_KEY_LENGTH) {
      throw error(
          0,
          "its keys could reach "
              + worstLength
              + " bytes, more than the "
              + KeyTemplate.MAX_KEY_LENGTH
              + " that S3 accepts: use fewer fields or a shorter prefix");
    }
    return KeyTemplate.of(t, unit, prefix, ext, parts, fields);
  }

  private void placeholder(int at, String name) {
    segmentHasPlaceholder = true;
    flushLiteral();
    switch (name) {
      case "date" -> add(Fixed.DATE, 10);
      case "hour" -> add(Fixed.HOUR, 2);
      case "ext" -> {
        hasExt = true;
        add(Fixed.EXT, ext.length());
      }
      case "batch", "id" -> {
        boolean wanted = name.equals(unit == Unit.BATCH ? "batch" : "id");
        if (!wanted) {
          throw error(
              at,
              unit == Unit.BATCH
                  ? "{id} names one payload; batch keys use {batch}"
                  : "{batch} names a batch; per-payload keys use {id}");
        }
        named = true;
        add(Fixed.NAME, KeyTemplate.MAX_NAME_LENGTH);
      }
      case "prefix" -> throw error(at, "{prefix} may only start the template");
      case "" -> throw error(at, "an empty placeholder {}: expected e.g. {date} or {$.type}");
      default -> {
        if (name.startsWith("$")) {
          field(at, name);
        } else {
          throw error(
              at,
              "unknown placeholder {"
                  + name
                  + "}: expected {date}, {hour}, "
                  + (unit == Unit.BATCH ? "{batch}" : "{id}")
                  + ", {ext} or a payload field such as {$.type}");
        }
      }
    }
  }

  private void field(int at, String name) {
    if (!name.startsWith("$.")) {
      throw error(at + 2, "expected '.' after '$': a field is written {$.name} or {$.a.b}");
    }
    String[] keys = name.substring(2).split("\\.", -1);
    int pos = at + 3;
    for (String key : keys) {
      if (key.isEmpty() || !key.chars().allMatch(KeyTemplateParser::keyChar)) {
        throw error(
            pos, "expected a field name of [A-Za-z0-9_-] here, in {" + name + "}, e.g. {$.type}");
      }
      pos += key.length() + 1;
    }
    if (keys.length > KeyTemplate.MAX_DEPTH) {
      throw error(at, "{" + name + "} is deeper than " + KeyTemplate.MAX_DEPTH + " keys");
    }
    if (fields.size() == FieldExtractor.MAX_PATHS) {
      throw error(at, "more than " + FieldExtractor.MAX_PATHS + " field placeholders");
    }
    parts.add(new Field(fields.size()));
    fields.add(name);
    worstLength += PartitionValue.MAX_LENGTH;
  }

  private void add(Fixed part, int maxLength) {
    parts.add(part);
    worstLength += maxLength;
  }

  private void flushLiteral() {
    if (!literal.isEmpty()) {
      parts.add(new Literal(literal.toString()));
      worstLength += literal.length();
      literal.setLength(0);
    }
  }

  private void endSegment(int end) {
    if (end == segmentStart) {
      throw error(
          end,
          end == t.length()
              ? "a template does not end with /: expected the object's name"
              : "an empty segment (//)");
    }
    String seg = t.substring(segmentStart, end);
    if (!segmentHasPlaceholder && seg.chars().allMatch(c -> c == '.')) {
      throw error(segmentStart, "a segment of dots only ('" + seg + "') would leave the prefix");
    }
    segmentHasPlaceholder = false;
  }

  private static boolean literalChar(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || LITERAL_CHARS.indexOf(c) >= 0;
  }

  private static boolean keyChar(int c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '_'
        || c == '-';
  }

  private static String shown(char c) {
    return c < 0x20 || c >= 0x7f ? String.format(Locale.ROOT, "U+%04X", (int) c) : "'" + c + "'";
  }

  private SyntaxException error(int position, String problem) {
    return new SyntaxException(t, position, problem);
  }
}
