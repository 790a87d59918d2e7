package io.millrace.ingest.workers;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
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
 */
final class FieldExtractor {
  private static final JsonFactory JSON = new JsonFactory();

  /** The most paths a template may have (a bit mask of them fits an int). */
  static final int MAX_PATHS = 8;

  private final String[][] paths;
  private final int all;

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

  private static String scalar(JsonParser p, JsonToken value) throws IOException {
    return switch (value) {
      case VALUE_STRING, VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> p.getText();
      case VALUE_TRUE -> "true";
      case VALUE_FALSE -> "false";
      default -> null; // null, an object, an array
    };
  }
}
