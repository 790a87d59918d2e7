package io.millrace.ingest.config;

import io.millrace.ingest.config.Config.ConfigException;
import io.millrace.ingest.config.Config.HelpRequested;
import java.util.Locale;
import java.util.Map;

/** The environment and the flags, read into the text of each setting; and {@code --help}. */
final class CommandLine {
  private CommandLine() {}

  /**
   * {@return the text of each setting, by {@link Setting#index()}: the flag's value if given, else
   * the environment's, else the default}
   *
   * @throws ConfigException if a flag is unknown or has no value
   * @throws HelpRequested if {@code --help} or {@code -h} is among the flags
   */
  static String[] read(Map<String, String> env, String[] args)
      throws ConfigException, HelpRequested {
    String[] raw = new String[Settings.ALL.size()];
    for (Setting<?> s : Settings.ALL) {
      raw[s.index()] = env.getOrDefault(s.name(), s.defaultValue());
    }
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        throw new HelpRequested();
      }
      int eq = a.indexOf('=');
      String flag = eq > 0 ? a.substring(0, eq) : a;
      Setting<?> s = Settings.flagged(flag);
      if (s == null) {
        throw new ConfigException("unknown argument '" + a + "' (see --help)");
      }
      if (eq < 0 && i + 1 >= args.length) {
        throw new ConfigException(flag + " needs a value (" + s.range() + ")");
      }
      raw[s.index()] = eq > 0 ? a.substring(eq + 1) : args[++i];
    }
    return raw;
  }

  /** {@return the text {@code --help} prints: every variable, its flag, default and meaning} */
  static String help() {
    StringBuilder sb = new StringBuilder();
    sb.append("millrace-ingest: accepts JSON payloads over HTTP and stores them in S3.\n\n")
        .append("Usage: java -jar millrace-ingest.jar [--flag=value ...]\n\n")
        .append("Each setting is an environment variable or the flag beside it (flags win).\n\n");
    for (Setting<?> s : Settings.ALL) {
      sb.append(
          String.format(
              Locale.ROOT,
              "  %-28s %-24s %s%n      default: %s   accepted: %s%n",
              s.name(),
              s.flag(),
              s.meaning(),
              s.defaultValue().isEmpty() ? "(unset)" : s.defaultValue(),
              s.range()));
    }
    sb.append("\nCredentials for an external S3 endpoint come from the AWS SDK's default provider")
        .append(" chain\n(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, ...).\n");
    return sb.toString();
  }
}
