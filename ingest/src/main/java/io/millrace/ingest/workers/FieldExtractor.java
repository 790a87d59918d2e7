package io.millrace.ingest.workers;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Reads the values at a few paths ({@code $.type}, {@code $.tags.zone}) out of one JSON payload
 * with Jackson's streaming parser: no tree is built, subtrees no path enters are skipped, and the
 * parse stops as soon as every path has its value. Thread-safe (the factory is; each call has its
 * own parser).
 *
 * <p>The first occurrence of a key wins if a payload repeats it. A path whose value is missing,
 * null, an object or an array yields null; so does every path of a payload that is not a JSON
 * object, or that does not parse.
 *
 * <p>When every path is a top-level key ({@code $.source}, not {@code $.tags.zone}) a byte scan
 * answers first (BENCHMARKS.md U6: a fifth of the parser's cost, no parser allocated): it walks the
 * top-level object, skipping other values (strings with their escapes, nested objects and arrays),
 * and takes a value only when it is plain (a string of printable ASCII without escapes, a number, a
 * literal). Whenever it meets anything else — an escape or a non-ASCII byte in a key or in a value
 * it would take, a byte that is not where JSON allows it — it hands the payload to the parser, so
 * its answers are the parser's: {@code FieldExtractorTest} checks the two against each other.
 */
final class FieldExtractor {
  private static final JsonFactory JSON = new JsonFactory();

  /** The most paths a template may have (a bit mask of them fits an int). */
  static final int MAX_PATHS = 8;

  private final String[][] paths;
  private final int all;
  private final byte[][] topLevel; // each path's only key as ASCII bytes; null: the parser only

  /**
   * @param paths each path's keys from the top, e.g. {@code ["tags", "zone"]}; at most {@value
   *     #MAX_PATHS}
   */
  FieldExtractor(List<List<String>> paths) {
    if (paths.size() > MAX_PATHS) {
      throw new IllegalArgumentException("at most " + MAX_PATHS + " paths: " + paths);
    }
    this.paths = new String[paths.size()][];
    for (int i = 0; i < paths.size(); i++) {
      this.paths[i] = paths.get(i).toArray(String[]::new);
    }
    this.all = (1 << paths.size()) - 1;
    byte[][] top = new byte[paths.size()][];
    for (int i = 0; i < paths.size(); i++) {
      String key = this.paths[i][0];
      if (this.paths[i].length != 1 || !printableAscii(key) || key.indexOf('\\') >= 0) {
        top = null;
        break;
      }
      top[i] = key.getBytes(StandardCharsets.US_ASCII);
    }
    this.topLevel = top;
  }

  private static boolean printableAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c > 0x7e || c == '"') {
        return false;
      }
    }
    return true;
  }

  /**
   * {@return each path's scalar text (a string's content, a number or boolean as written), null
   * where there is none}
   *
   * @param payload one JSON value
   */
  String[] extract(byte[] payload) {
    String[] out = new String[paths.length];
    if (paths.length == 0) {
      return out;
    }
    if (topLevel != null && scanTopLevel(payload, out)) {
      return out;
    }
    Arrays.fill(out, null);
    return parse(payload, out);
  }

  /** The parser's answer (also the scan's, which {@code FieldExtractorTest} holds it to). */
  String[] parse(byte[] payload, String[] out) {
    try (JsonParser p = JSON.createParser(payload)) {
      if (p.nextToken() == JsonToken.START_OBJECT) {
        scan(p, 0, all, out, new int[] {0});
      }
    } catch (IOException e) {
      return new String[paths.length]; // not JSON after all: every field is missing
    }
    return out;
  }

  /**
   * Scans one object whose keys are at {@code depth}, for the paths in {@code mask} (those whose
   * first {@code depth} keys led here). {@code found[0]} is the mask of paths already decided.
   *
   * @return whether every path is decided, so the caller can stop
   */
  private boolean scan(JsonParser p, int depth, int mask, String[] out, int[] found)
      throws IOException {
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      JsonToken value = p.nextToken();
      int deeper = 0;
      for (int i = 0; i < paths.length; i++) {
        if ((mask & (1 << i)) == 0 || !paths[i][depth].equals(name)) {
          continue;
        }
        if (paths[i].length == depth + 1) {
          if ((found[0] & (1 << i)) == 0) {
            out[i] = scalar(p, value);
            found[0] |= 1 << i;
          }
        } else if ((found[0] & (1 << i)) == 0) {
          deeper |= 1 << i;
        }
      }
      if (deeper != 0 && value == JsonToken.START_OBJECT) {
        if (scan(p, depth + 1, deeper, out, found)) {
          return true;
        }
      } else if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
        p.skipChildren();
      }
      if (found[0] == all) {
        return true;
      }
    }
    // the object ended: its paths that were not seen are missing, hence decided
    for (int i = 0; i < paths.length; i++) {
      if ((mask & (1 << i)) != 0) {
        found[0] |= 1 << i;
      }
    }
    return found[0] == all;
  }

  // ------------------------------------------------------------------ the byte scan

  /**
   * Scans a payload whose paths are all top-level keys.
   *
   * @return true if {@code out} holds the answer; false if the parser must decide
   */
  private boolean scanTopLevel(byte[] b, String[] out) {
    int found = 0;
    int i = ws(b, 0);
    if (i >= b.length || b[i] != '{') {
      return false;
    }
    i = ws(b, i + 1);
    if (i < b.length && b[i] == '}') {
      return true; // an empty object: every path missing
    }
    while (true) {
      // a key: plain ASCII without escapes, or the parser decides
      if (i >= b.length || b[i] != '"') {
        return false;
      }
      int keyStart = i + 1;
      int keyEnd = keyStart;
      while (keyEnd < b.length && b[keyEnd] != '"') {
        int c = b[keyEnd];
        if (c == '\\' || c < 0x20) { // also every byte >= 0x80 (negative)
          return false;
        }
        keyEnd++;
      }
      if (keyEnd >= b.length) {
        return false;
      }
      i = ws(b, keyEnd + 1);
      if (i >= b.length || b[i] != ':') {
        return false;
      }
      i = ws(b, i + 1);
      if (i >= b.length) {
        return false;
      }
      int path = -1;
      for (int k = 0; k < topLevel.length; k++) {
        if ((found & (1 << k)) == 0 && sameKey(b, keyStart, keyEnd, topLevel[k])) {
          path = k;
          break;
        }
      }
      int end;
      if (path >= 0) {
        // the value is taken: only plain ones, else the parser
        byte c = b[i];
        if (c == '"') {
          end = i + 1;
          while (end < b.length && b[end] != '"') {
            int v = b[end];
            if (v == '\\' || v < 0x20 || v == 0x7f) {
              return false;
            }
            end++;
          }
          if (end >= b.length) {
            return false;
          }
          String value = new String(b, i + 1, end - i - 1, StandardCharsets.ISO_8859_1); // ASCII
          end++;
          for (int k = path; k < topLevel.length; k++) { // a repeated path (same key twice)
            if ((found & (1 << k)) == 0 && sameKey(b, keyStart, keyEnd, topLevel[k])) {
              out[k] = value;
              found |= 1 << k;
            }
          }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          end = number(b, i);
          if (end < 0) {
            return false;
          }
          String value = new String(b, i, end - i, StandardCharsets.ISO_8859_1);
          for (int k = path; k < topLevel.length; k++) {
            if ((found & (1 << k)) == 0 && sameKey(b, keyStart, keyEnd, topLevel[k])) {
              out[k] = value;
              found |= 1 << k;
            }
          }
        } else {
          String literal;
          if (literal(b, i, "true")) {
            literal = "true";
            end = i + 4;
          } else if (literal(b, i, "false")) {
            literal = "false";
            end = i + 5;
          } else if (literal(b, i, "null")) {
            literal = null;
            end = i + 4;
          } else if (c == '{' || c == '[') {
            end = skipNested(b, i);
            if (end < 0) {
              return false;
            }
            literal = null;
          } else {
            return false;
          }
          for (int k = path; k < topLevel.length; k++) {
            if ((found & (1 << k)) == 0 && sameKey(b, keyStart, keyEnd, topLevel[k])) {
              out[k] = literal;
              found |= 1 << k;
            }
          }
        }
        if (found == all) {
          return true; // as the parser, which stops here
        }
      } else {
        end = skipValue(b, i);
        if (end < 0) {
          return false;
        }
      }
      i = ws(b, end);
      if (i >= b.length) {
        return false;
      }
      if (b[i] == ',') {
        i = ws(b, i + 1);
      } else if (b[i] == '}') {
        return true; // the object ended: the paths not seen are missing
      } else {
        return false;
      }
    }
  }

  private static int ws(byte[] b, int i) {
    while (i < b.length && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) {
      i++;
    }
    return i;
  }

  private static boolean sameKey(byte[] b, int from, int to, byte[] key) {
    return to - from == key.length && Arrays.equals(b, from, to, key, 0, key.length);
  }

  private static boolean literal(byte[] b, int i, String word) {
    if (i + word.length() > b.length) {
      return false;
    }
    for (int k = 0; k < word.length(); k++) {
      if (b[i + k] != word.charAt(k)) {
        return false;
      }
    }
    return i + word.length() == b.length || delimiter(b[i + word.length()]);
  }

  private static boolean delimiter(byte c) {
    return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
  }

  /** {@return the end of a JSON number at {@code i} (RFC 8259's grammar), or -1} */
  private static int number(byte[] b, int i) {
    int j = i;
    if (j < b.length && b[j] == '-') {
      j++;
    }
    if (j >= b.length) {
      return -1;
    }
    if (b[j] == '0') {
      j++;
    } else if (b[j] >= '1' && b[j] <= '9') {
      while (j < b.length && b[j] >= '0' && b[j] <= '9') {
        j++;
      }
    } else {
      return -1;
    }
    if (j < b.length && b[j] == '.') {
      int d = ++j;
      while (j < b.length && b[j] >= '0' && b[j] <= '9') {
        j++;
      }
      if (j == d) {
        return -1;
      }
    }
    if (j < b.length && (b[j] == 'e' || b[j] == 'E')) {
      j++;
      if (j < b.length && (b[j] == '+' || b[j] == '-')) {
        j++;
      }
      int d = j;
      while (j < b.length && b[j] >= '0' && b[j] <= '9') {
        j++;
      }
      if (j == d) {
        return -1;
      }
    }
    return j < b.length && !delimiter(b[j]) ? -1 : j;
  }

  /** {@return the end of the value at {@code i} when it is skipped, or -1 (the parser decides)} */
  private static int skipValue(byte[] b, int i) {
    byte c = b[i];
    if (c == '"') {
      return skipString(b, i);
    }
    if (c == '{' || c == '[') {
      return skipNested(b, i);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      return number(b, i);
    }
    for (String w : new String[] {"true", "false", "null"}) {
      if (literal(b, i, w)) {
        return i + w.length();
      }
    }
    return -1;
  }

  /** {@return the index after the string starting at {@code i}, or -1} */
  private static int skipString(byte[] b, int i) {
    int j = i + 1;
    while (j < b.length) {
      int c = b[j];
      if (c == '"') {
        return j + 1;
      }
      if (c == '\\') {
        j += 2;
      } else if (c >= 0 && c < 0x20) {
        return -1;
      } else {
        j++;
      }
    }
    return -1;
  }

  /**
   * {@return the index after the object or array starting at {@code i}, or -1}: brackets are
   * counted and strings skipped; what is between them is not checked (the parser would reject a
   * malformed one, so its answer for the top-level keys the scan takes could differ only for a
   * payload that is not JSON, and payloads are parsed strictly at admission)
   */
  private static int skipNested(byte[] b, int i) {
    int depth = 0;
    for (int j = i; j < b.length; j++) {
      byte c = b[j];
      if (c == '"') {
        j = skipString(b, j);
        if (j < 0) {
          return -1;
        }
        j--;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          return j + 1;
        }
      }
    }
    return -1;
  }

  private static String scalar(JsonParser p, JsonToken value) throws IOException {
    return switch (value) {
      case VALUE_STRING, VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> p.getText();
      case VALUE_TRUE -> "true";
      case VALUE_FALSE -> "false";
      default -> null; // null, an object, an array
    };
  }
}
