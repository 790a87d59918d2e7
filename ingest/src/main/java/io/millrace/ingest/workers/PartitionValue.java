package io.millrace.ingest.workers;

import java.nio.charset.StandardCharsets;

/**
 * Turns a payload field's value into a safe part of an object key.
 *
 * <p>The rules, in order:
 *
 * <ol>
 *   <li>A missing field, {@code null}, an object or an array, or an empty string becomes {@value
 *       #MISSING}.
 *   <li>Characters outside {@code [A-Za-z0-9._-]} are percent-encoded as their UTF-8 bytes ({@code
 *       %2F} for {@code /}, {@code %25} for {@code %}, {@code %C3%A9} for {@code é}, {@code %0A}
 *       for a newline); an unpaired surrogate is encoded as {@code ?}.
 *   <li>A value made of dots only ({@code .}, {@code ..}) has every dot encoded ({@code %2E}), so
 *       no key segment can read as the current or the parent folder.
 *   <li>An encoded value longer than {@value #MAX_LENGTH} characters keeps its first {@value #KEPT}
 *       characters (never half of a {@code %XX}), then {@code ~} and 16 hex digits of a hash of the
 *       whole value, so long values stay distinct. ({@code ~} is never otherwise produced: a {@code
 *       ~} in a value is encoded as {@code %7E}.)
 * </ol>
 *
 * So a value never holds {@code /}, never is empty, {@code .} or {@code ..}, and is at most {@value
 * #MAX_LENGTH} characters of {@code [A-Za-z0-9._~%-]}.
 */
final class PartitionValue {
  /** The partition of payloads that lack the field, or hold null, an object or an array there. */
  static final String MISSING = "__missing__";

  /** The longest value, in characters. */
  static final int MAX_LENGTH = 64;

  /** What a shortened value keeps of its encoded form before {@code ~<hash>}. */
  static final int KEPT = MAX_LENGTH - 17;

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private PartitionValue() {}

  /**
   * {@return the safe form of a scalar's text}
   *
   * @param raw the field's text (a string's content, a number or boolean as written), or null
   */
  static String of(String raw) {
    if (raw == null || raw.isEmpty()) {
      return MISSING;
    }
    if (raw.length() <= MAX_LENGTH && plain(raw)) {
      return raw; // the common case: nothing to encode, no copy
    }
    StringBuilder sb = new StringBuilder(Math.min(raw.length() * 3, 4 * MAX_LENGTH));
    boolean dotsOnly = dotsOnly(raw);
    byte[] utf8 = raw.getBytes(StandardCharsets.UTF_8);
    for (byte b : utf8) {
      int c = b & 0xff;
      if (safe(c) && !(dotsOnly && c == '.')) {
        sb.append((char) c);
      } else {
        sb.append('%').append(HEX[c >>> 4]).append(HEX[c & 0xf]);
      }
      if (sb.length() > MAX_LENGTH) {
        return shortened(sb, utf8);
      }
    }
    return sb.toString();
  }

  private static String shortened(StringBuilder sb, byte[] utf8) {
    int keep = KEPT;
    // never cut inside a %XX triple
    if (keep >= 1 && sb.charAt(keep - 1) == '%') {
      keep -= 1;
    } else if (keep >= 2 && sb.charAt(keep - 2) == '%') {
      keep -= 2;
    }
    sb.setLength(keep);
    long h = 0xcbf29ce484222325L; // FNV-1a, 64 bits: to tell long values apart, not for security
    for (byte b : utf8) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    sb.append('~');
    for (int shift = 60; shift >= 0; shift -= 4) {
      sb.append(HEX[(int) (h >>> shift) & 0xf]);
    }
    return sb.toString();
  }

  private static boolean plain(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (!safe(s.charAt(i))) {
        return false;
      }
    }
    return !dotsOnly(s);
  }

  private static boolean dotsOnly(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) != '.') {
        return false;
      }
    }
    return true;
  }

  static boolean safe(int c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '-'
        || c == '_'
        || c == '.';
  }
}
