package io.millrace.ingest.config;

import io.millrace.ingest.config.Config.ConfigException;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * One setting of the service: its environment variable, default, accepted values, meaning, and how
 * a value is read. The flag, the {@code --help} line, the {@code toString} entry and the
 * docs/configuration.md row all derive from it. The table of every setting is {@link Settings}.
 *
 * <p>Immutable; a value is read by {@link #read(String)}, which throws {@link ConfigException}
 * naming the variable and the accepted values.
 *
 * @param <T> the type of its value
 */
final class Setting<T> {
  /** Reads one value, already trimmed; throws {@link ConfigException} if it is not accepted. */
  @FunctionalInterface
  interface Reader<T> {
    T read(Setting<?> setting, String value) throws ConfigException;
  }

  private final int index;
  private final String name;
  private final String defaultValue;
  private final String range;
  private final String meaning;
  private final Reader<T> reader;
  private final Function<T, String> shown;

  Setting(
      int index,
      String name,
      String defaultValue,
      String range,
      String meaning,
      Reader<T> reader,
      Function<T, String> shown) {
    this.index = index;
    this.name = Objects.requireNonNull(name);
    this.defaultValue = Objects.requireNonNull(defaultValue);
    this.range = Objects.requireNonNull(range);
    this.meaning = Objects.requireNonNull(meaning);
    this.reader = Objects.requireNonNull(reader);
    this.shown = Objects.requireNonNull(shown);
  }

  /** {@return its position in the table} */
  int index() {
    return index;
  }

  /** {@return the environment variable} */
  String name() {
    return name;
  }

  /** {@return the default, as text; empty means unset} */
  String defaultValue() {
    return defaultValue;
  }

  /** {@return the accepted values, as the help and error messages say them} */
  String range() {
    return range;
  }

  /** {@return what it means, one line} */
  String meaning() {
    return meaning;
  }

  /** {@return the flag: the name without {@code MILLRACE_}, lower case, dashes} */
  String flag() {
    return "--" + shortName().replace('_', '-');
  }

  /** {@return the label in {@code Config.toString()}: the flag in camel case} */
  String label() {
    StringBuilder sb = new StringBuilder();
    boolean upper = false;
    for (char c : shortName().toCharArray()) {
      if (c == '_') {
        upper = true;
      } else {
        sb.append(upper ? Character.toUpperCase(c) : c);
        upper = false;
      }
    }
    return sb.toString();
  }

  private String shortName() {
    String n = name.startsWith("MILLRACE_") ? name.substring("MILLRACE_".length()) : name;
    return n.toLowerCase(Locale.ROOT);
  }

  /**
   * Reads a value.
   *
   * @param raw the text from the environment, a flag or the default
   * @return the value
   * @throws ConfigException if it is not accepted: the message names the variable and the range
   */
  T read(String raw) throws ConfigException {
    return reader.read(this, raw.trim());
  }

  /** {@return how {@code Config.toString()} shows a value (secrets masked)} */
  String show(Object value) {
    @SuppressWarnings("unchecked")
    T t = (T) value;
    return shown.apply(t);
  }

  /** {@return the error for a value that is not accepted} */
  ConfigException rejected(String value) {
    return new ConfigException(name + "='" + value + "' is not accepted (accepted: " + range + ")");
  }

  @Override
  public String toString() {
    return name;
  }

  // ------------------------------------------------------------------ readers

  /** {@return a reader of whole numbers in {@code min..max}; underscores are allowed} */
  static Reader<Long> wholeNumber(long min, long max) {
    return (s, v) -> {
      long value;
      try {
        value = Long.parseLong(v.replace("_", ""));
      } catch (NumberFormatException e) {
        throw new ConfigException(
            s.name() + "='" + v + "' is not a whole number (accepted: " + min + ".." + max + ")");
      }
      if (value < min || value > max) {
        throw new ConfigException(
            s.name() + "=" + value + " is out of range (accepted: " + min + ".." + max + ")");
      }
      return value;
    };
  }

  /** {@return a reader of text matching {@code syntax} (whole), at most {@code maxLength}} */
  static Reader<String> matching(String syntax, int maxLength) {
    Pattern p = Pattern.compile(syntax);
    return (s, v) -> {
      if (v.length() > maxLength || !p.matcher(v).matches()) {
        throw s.rejected(v);
      }
      return v;
    };
  }

  /** {@return a reader of non-empty text} */
  static Reader<String> nonEmpty() {
    return (s, v) -> {
      if (v.isEmpty()) {
        throw new ConfigException(s.name() + " must not be empty (accepted: " + s.range() + ")");
      }
      return v;
    };
  }

  /** A reader of one of a closed set of names, or null for a name not in it. */
  @FunctionalInterface
  interface Names<T> {
    T valueOf(String name);
  }

  /** {@return a reader that accepts what {@code names} knows} */
  static <T> Reader<T> oneOf(Names<T> names) {
    return (s, v) -> {
      T t = names.valueOf(v);
      if (t == null) {
        throw s.rejected(v);
      }
      return t;
    };
  }
}
