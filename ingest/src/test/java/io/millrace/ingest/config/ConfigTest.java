package io.millrace.ingest.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ConfigTest {
  @Test
  void defaultsMatchTheDesign() {
    Config c = Config.defaults();
    assertThat(c.port()).isEqualTo(8080);
    assertThat(c.mode()).isEqualTo(Config.Mode.BATCHED);
    assertThat(c.embedded()).isTrue();
    assertThat(c.queue()).isEqualTo("disk");
    assertThat(c.queueKind()).isEqualTo(Config.QueueKind.DISK);
    assertThat(c.sharedQueue()).isFalse();
    assertThat(c.role()).isEqualTo("all");
    assertThat(c.apiKeys()).isEmpty();
    assertThat(c.dataDir().toString()).endsWith("data");
  }

  @Test
  void flagsWinOverTheEnvironment() throws Exception {
    Config c =
        Config.parse(
            Map.of("MAX_WORKERS", "3", "MILLRACE_MODE", "per-payload"),
            new String[] {"--max-workers=5", "--queue-max-bytes", "4096", "--mode", "batched"});
    assertThat(c.maxWorkers()).isEqualTo(5);
    assertThat(c.queueMaxBytes()).isEqualTo(4096);
    assertThat(c.mode()).isEqualTo(Config.Mode.BATCHED);
  }

  @Test
  void aBadValueNamesTheVariableAndTheRange() {
    assertThatThrownBy(() -> Config.parse(Map.of("MAX_WORKERS", "0"), new String[0]))
        .isInstanceOf(Config.ConfigException.class)
        .hasMessageContaining("MAX_WORKERS")
        .hasMessageContaining("1..1024");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_PORT", "http"), new String[0]))
        .hasMessageContaining("MILLRACE_PORT")
        .hasMessageContaining("0..65535");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_MODE", "fast"), new String[0]))
        .hasMessageContaining("MILLRACE_MODE")
        .hasMessageContaining("batched|per-payload");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_S3_ENDPOINT", "ftp://x"), new String[0]))
        .hasMessageContaining("MILLRACE_S3_ENDPOINT");
    assertThatThrownBy(
            () -> Config.parse(Map.of("MILLRACE_QUEUE", "redis://localhost:6379"), new String[0]))
        .hasMessageContaining("MILLRACE_QUEUE")
        .hasMessageContaining("nats://host:port");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_ROLE", "worker"), new String[0]))
        .hasMessageContaining("MILLRACE_ROLE=worker")
        .hasMessageContaining("MILLRACE_QUEUE");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_ROLE", "boss"), new String[0]))
        .hasMessageContaining("all|ingest|worker");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_NATS_SUBJECT", "a.*"), new String[0]))
        .hasMessageContaining("MILLRACE_NATS_SUBJECT")
        .hasMessageContaining("no wildcards");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_NATS_REPLICAS", "7"), new String[0]))
        .hasMessageContaining("MILLRACE_NATS_REPLICAS")
        .hasMessageContaining("1..5");
    assertThatThrownBy(() -> Config.parse(Map.of("MILLRACE_API_KEYS", "short"), new String[0]))
        .hasMessageContaining("MILLRACE_API_KEYS")
        .hasMessageNotContaining("short");
    assertThatThrownBy(() -> Config.parse(Map.of(), new String[] {"--no-such-flag=1"}))
        .hasMessageContaining("--no-such-flag");
  }

  @Test
  void theJetStreamSettingsParseWithTheirDefaults() throws Exception {
    Config c =
        Config.parse(
            Map.of(
                "MILLRACE_QUEUE", "nats://n1:4222, nats://u:p@n2:4222", "MILLRACE_ROLE", "worker"),
            new String[] {"--nats-max-deliver=3"});
    assertThat(c.sharedQueue()).isTrue();
    assertThat(c.queueKind()).isEqualTo(Config.QueueKind.JETSTREAM);
    assertThat(c.roleKind()).isEqualTo(Config.Role.WORKER);
    assertThat(c.nats().servers()).containsExactly("nats://n1:4222", "nats://u:p@n2:4222");
    assertThat(c.nats().maxDeliver()).isEqualTo(3);
    assertThat(c.nats().stream()).isEqualTo("MILLRACE");
    assertThat(c.nats().deadStream()).isEqualTo("MILLRACE_DEAD");
    assertThat(c.nats().ackWaitMs()).isEqualTo(30_000);
    assertThat(c.toString()).doesNotContain("u:p");
    assertThat(c.with(Map.of("MILLRACE_NATS_REPLICAS", "3")).nats().replicas()).isEqualTo(3);
  }

  @Test
  void helpListsEveryVariableWithItsFlagAndDefault() {
    assertThatThrownBy(() -> Config.parse(Map.of(), new String[] {"--help"}))
        .isInstanceOf(Config.HelpRequested.class);
    String help = Config.help();
    for (Setting<?> s : Settings.ALL) {
      assertThat(help).contains(s.name()).contains(s.flag());
    }
    assertThat(help).contains("MAX_QUEUE").contains("--max-queue").contains("default: 100000");
  }

  @Test
  void theConfigurationPageListsEverySettingWithItsFlagAndDefaultAndNothingElse() throws Exception {
    Map<String, List<String>> page = configurationPageTable();
    Map<String, List<String>> table = new LinkedHashMap<>();
    for (Setting<?> s : Settings.ALL) {
      table.put(s.name(), List.of(s.flag(), s.defaultValue()));
    }
    assertThat(page)
        .as("docs/configuration.md table: variable -> [flag, default]")
        .isEqualTo(table);
  }

  /**
   * The rows of the table in {@code docs/configuration.md}: {@code | `NAME` | `--flag` | default |
   * meaning |}, the default without a trailing note in parentheses, {@code (unset)} read as empty.
   */
  static Map<String, List<String>> configurationPageTable() throws Exception {
    Path dir = Path.of("").toAbsolutePath();
    while (!Files.exists(dir.resolve("docs/configuration.md"))) {
      dir = dir.getParent();
      assertThat(dir).as("a docs/configuration.md above the module").isNotNull();
    }
    String section = Files.readString(dir.resolve("docs/configuration.md"));
    Pattern row = Pattern.compile("(?m)^\\| `([A-Z0-9_]+)` \\| `(--[a-z0-9-]+)` \\| ([^|]*) \\|");
    Map<String, List<String>> rows = new LinkedHashMap<>();
    Matcher m = row.matcher(section);
    while (m.find()) {
      String def = m.group(3).trim().replaceFirst("\\s*\\(.*\\)$", "");
      rows.put(m.group(1), List.of(m.group(2), def));
    }
    return rows;
  }

  @Test
  void toStringNeverShowsTheKeys() throws Exception {
    Config c = Config.parse(Map.of("MILLRACE_API_KEYS", "secret-key-123"), new String[0]);
    assertThat(c.toString()).doesNotContain("secret-key-123").contains("apiKeys=1");
  }
}
