package io.millrace.ingest.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Splits a request body into payloads without building a tree: Jackson's streaming parser walks the
 * document and each payload's bytes are sliced out of the body as sent, then made compact (JSON
 * whitespace outside strings dropped; every other byte kept).
 *
 * <p>Limits: nesting deeper than {@link #MAX_DEPTH} levels in the whole document (the envelope
 * object and array count), strings longer than the body, invalid UTF-8 anywhere: all rejected.
 *
 * <p>Stateless and thread-safe.
 */
public final class PayloadParser {
  /**
   * The deepest nesting accepted, counting the {@code {"payloads":[...]}} envelope's two levels.
   */
  public static final int MAX_DEPTH = 64;

  private static final JsonFactory FACTORY =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder()
                  .maxNestingDepth(MAX_DEPTH)
                  .maxNumberLength(1000)
                  .build())
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  /** The body is not acceptable; the message says why, for the problem's {@code detail}. */
  public static final class MalformedException extends Exception {
    private static final long serialVersionUID = 1L;

    MalformedException(String message) {
      super(message, null, false, false);
    }
  }

  private PayloadParser() {}

  /**
   * Parses {@code {"payloads": [v1, v2, ...]}}; other top-level fields are ignored.
   *
   * @param body the whole (decompressed) body
   * @return each payload's compact bytes, in order
   * @throws MalformedException if it is not such a document
   */
  public static List<byte[]> parseEnvelope(byte[] body) throws MalformedException {
    requireUtf8(body, 0, body.length);
    List<byte[]> out = null;
    try (JsonParser p = FACTORY.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new MalformedException("the body must be a JSON object {\"payloads\": [...]}");
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        if ("payloads".equals(name)) {
          if (v != JsonToken.START_ARRAY) {
            throw new MalformedException("\"payloads\" must be an array");
          }
          out = new ArrayList<>();
          while (p.nextToken() != JsonToken.END_ARRAY) {
            out.add(slice(p, body));
          }
        } else {
          p.skipChildren();
        }
      }
      if (t != JsonToken.END_OBJECT) {
        throw new MalformedException("malformed JSON object");
      }
      if (p.nextToken() != null) {
        throw new MalformedException("unexpected content after the JSON object");
      }
    } catch (StreamConstraintsException e) {
      throw new MalformedException(
          "limit exceeded: "
              + e.getOriginalMessage()
              + " (nesting at most "
              + MAX_DEPTH
              + " levels, envelope included)");
    } catch (IOException e) {
      throw new MalformedException("malformed JSON: " + shortMessage(e));
    }
    if (out == null) {
      throw new MalformedException("no \"payloads\" array in the body");
    }
    return out;
  }

  /**
   * Parses NDJSON: one JSON value per line; blank lines are skipped.
   *
   * @param body the whole (decompressed) body
   * @return each line's compact bytes, in order
   * @throws MalformedException if a line is not exactly one JSON value
   */
  public static List<byte[]> parseNdjson(byte[] body) throws MalformedException {
    requireUtf8(body, 0, body.length);
    List<byte[]> out = new ArrayList<>();
    int start = 0;
    int line = 1;
    while (start < body.length) {
      int end = start;
      while (end < body.length && body[end] != '\n') {
        end++;
      }
      if (!blank(body, start, end)) {
        try (JsonParser p = FACTORY.createParser(body, start, end - start)) {
          if (p.nextToken() == null) {
            throw new MalformedException("line " + line + ": no JSON value");
          }
          byte[] value = slice(p, body, start);
          if (p.nextToken() != null) {
            throw new MalformedException("line " + line + ": more than one JSON value");
          }
          out.add(value);
        } catch (StreamConstraintsException e) {
          throw new MalformedException(
              "line " + line + ": limit exceeded: " + e.getOriginalMessage());
        } catch (IOException e) {
          throw new MalformedException("line " + line + ": malformed JSON: " + shortMessage(e));
        }
      }
      start = end + 1;
      line++;
    }
    return out;
  }

  /**
   * Slices the value whose first token is the parser's current token out of {@code buf}, and leaves
   * the parser on its last token.
   */
  static byte[] slice(JsonParser p, byte[] buf) throws IOException {
    return slice(p, buf, 0);
  }

  static byte[] slice(JsonParser p, byte[] buf, int base) throws IOException {
    JsonToken t = p.currentToken();
    if (t == null
        || t == JsonToken.END_ARRAY
        || t == JsonToken.END_OBJECT
        || t == JsonToken.FIELD_NAME) {
      throw new IOException("expected a JSON value, got " + t);
    }
    int from = base + (int) p.currentTokenLocation().getByteOffset();
    if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
      p.skipChildren();
    } else {
      p.finishToken(); // strings are read lazily: read to the closing quote
    }
    int to = base + (int) p.currentLocation().getByteOffset();
    return compact(buf, from, to);
  }

  /** Copies {@code buf[from, to)} without JSON whitespace outside strings. */
  static byte[] compact(byte[] buf, int from, int to) {
    while (to > from && isWs(buf[to - 1])) {
      to--;
    }
    boolean any = false;
    boolean inString = false;
    for (int i = from; i < to; i++) {
      byte b = buf[i];
      if (inString) {
        if (b == '\\') {
          i++;
        } else if (b == '"') {
          inString = false;
        }
      } else if (b == '"') {
        inString = true;
      } else if (isWs(b)) {
        any = true;
        break;
      }
    }
    if (!any) {
      return Arrays.copyOfRange(buf, from, to);
    }
    byte[] out = new byte[to - from];
    int n = 0;
    inString = false;
    for (int i = from; i < to; i++) {
      byte b = buf[i];
      if (inString) {
        out[n++] = b;
        if (b == '\\') {
          out[n++] = buf[++i];
        } else if (b == '"') {
          inString = false;
        }
      } else if (b == '"') {
        inString = true;
        out[n++] = b;
      } else if (!isWs(b)) {
        out[n++] = b;
      }
    }
    return Arrays.copyOf(out, n);
  }

  private static boolean isWs(byte b) {
    return b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }

  private static boolean blank(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (!isWs(b[i])) {
        return false;
      }
    }
    return true;
  }

  /** Rejects invalid UTF-8 (overlong forms and lone surrogates included); ASCII is checked fast. */
  static void requireUtf8(byte[] b, int from, int to) throws MalformedException {
    int i = from;
    while (i < to && b[i] >= 0) {
      i++;
    }
    if (i == to) {
      return;
    }
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, i, to - i));
    } catch (CharacterCodingException e) {
      throw new MalformedException("the body is not valid UTF-8");
    }
  }

  private static String shortMessage(IOException e) {
    String m =
        e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe
            ? jpe.getOriginalMessage()
            : e.getMessage();
    if (m == null) {
      return e.getClass().getSimpleName();
    }
    m = m.replaceAll("\\s+", " ");
    return m.length() > 200 ? m.substring(0, 200) + "..." : m;
  }
}
