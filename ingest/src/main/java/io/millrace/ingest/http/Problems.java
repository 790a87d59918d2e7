package io.millrace.ingest.http;

import java.nio.charset.StandardCharsets;

/** RFC 9457 problem details, as {@code application/problem+json} bodies. */
public final class Problems {
  public static final String CONTENT_TYPE = "application/problem+json";

  private Problems() {}

  /** {@return the body for a problem; {@code type} is a short slug, turned into a URN} */
  static byte[] body(int status, String slug, String title, String detail) {
    StringBuilder sb = new StringBuilder(160);
    sb.append("{\"type\":\"urn:millrace:problem:").append(slug).append("\",\"title\":");
    quote(sb, title);
    sb.append(",\"status\":").append(status);
    if (detail != null) {
      sb.append(",\"detail\":");
      quote(sb, detail);
    }
    sb.append('}');
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
