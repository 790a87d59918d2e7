package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.metric;
import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's files in {@code deploy/}: the alert rules pass {@code promtool check rules} and
 * their {@code promtool test rules} unit tests, each alert is tested firing and not firing, every
 * dashboard query is valid PromQL, and every metric the dashboard and the rules query is exported
 * by a running service (memory mode or JetStream mode) with the labels they select on. Every
 * dashboard panel reads the dashboard's data source variable, so the file imports anywhere.
 */
@Timeout(180)
class DeployArtifactsTest {
  static final Path DEPLOY = deployDir();
  static final Path RULES = DEPLOY.resolve("prometheus/millrace-alerts.yml");
  static final Path RULE_TESTS = DEPLOY.resolve("prometheus/millrace-alerts.test.yml");
  static final Path DASHBOARD = DEPLOY.resolve("grafana/millrace.json");

  static final String NATS_URL = System.getProperty("millrace.nats.url", "nats://127.0.0.1:4222");

  /** Series Prometheus writes itself for each scrape target; no service exports them. */
  static final Set<String> WRITTEN_BY_PROMETHEUS = Set.of("up");

  /** Labels Prometheus puts on every series of a target. */
  static final Set<String> TARGET_LABELS = Set.of("job", "instance");

  static final Set<String> AGGREGATIONS =
      Set.of(
          ("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk"
                  + " limit_ratio")
              .split(" "));
  static final Set<String> KEYWORDS = Set.of("and or unless bool offset atan2 inf nan".split(" "));
  static final Set<String> LABEL_LISTS =
      Set.of("by", "without", "on", "ignoring", "group_left", "group_right");
  static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'");
  static final Pattern MATCHER = Pattern.compile("([a-zA-Z_]\\w*)\\s*(?:=~|!~|!=|=)");
  static final Pattern LABEL_VALUES = Pattern.compile("label_values\\((.*),\\s*(\\w+)\\)");

  @TempDir Path dir;

  /** A metric a query reads, and the labels it selects on. */
  record Selector(String metric, Set<String> labels) {}

  /** One PromQL query and where it is (an alert, a dashboard panel). */
  record Query(String where, String expr) {}

  @Test
  void theAlertRulesPassPromtoolsCheck() throws Exception {
    promtool("check", "rules", "--lint=all", "--lint-fatal", RULES.toString());
  }

  @Test
  void theAlertRulesPassTheirPromtoolUnitTests() throws Exception {
    promtool("test", "rules", RULE_TESTS.toString());
  }

  @Test
  void everyAlertIsTestedFiringAndNotFiring() throws IOException {
    List<String> lines = Files.readAllLines(RULE_TESTS);
    Map<String, Set<String>> cases = new TreeMap<>();
    Pattern name = Pattern.compile("^\\s*(?:- )?alertname:\\s*(\\S+)\\s*$");
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = name.matcher(lines.get(i));
      if (m.matches()) {
        String exp = lines.get(i + 1).trim();
        assertThat(exp).as("line %d after alertname", i + 2).startsWith("exp_alerts:");
        cases
            .computeIfAbsent(m.group(1), k -> new TreeSet<>())
            .add(exp.equals("exp_alerts: []") ? "not firing" : "firing");
      }
    }
    Map<String, Set<String>> expected = new TreeMap<>();
    alerts().forEach(a -> expected.put(a, new TreeSet<>(Set.of("firing", "not firing"))));
    assertThat(expected).hasSizeGreaterThanOrEqualTo(6);
    assertThat(cases).isEqualTo(expected);
  }

  @Test
  void everyDashboardQueryIsValidPromql() throws Exception {
    StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
    int n = 0;
    for (Query q : dashboardQueries()) {
      // Grafana's variables: a range where a duration stands, a regex where a string does
      String expr = q.expr().replaceAll("\\$__\\w+", "5m").replaceAll("\\$\\w+", ".*");
      // the rule's name says which panel a parse error is in
      String name = q.where().replaceAll("[^A-Za-z0-9]+", "_") + "_" + ++n;
      rules.append("      - record: ").append(name).append('\n');
      rules.append("        expr: \"").append(yamlEscape(expr)).append("\"\n");
    }
    Path file = dir.resolve("dashboard-queries.yml");
    Files.writeString(file, rules);
    String out = promtool("check", "rules", file.toString());
    assertThat(out).contains("SUCCESS: " + n + " rules found");
  }

  @Test
  void everyMetricTheDashboardAndTheRulesQueryIsExportedByARunningService() throws Exception {
    List<Query> queries = new ArrayList<>(dashboardQueries());
    queries.addAll(ruleQueries());
    Map<String, Set<String>> exported = new TreeMap<>();
    scrapeMemoryMode()
        .forEach((k, v) -> exported.computeIfAbsent(k, x -> new TreeSet<>()).addAll(v));
    scrapeJetStreamMode()
        .forEach((k, v) -> exported.computeIfAbsent(k, x -> new TreeSet<>()).addAll(v));

    List<String> missing = new ArrayList<>();
    Set<String> referenced = new TreeSet<>();
    for (Query q : queries) {
      for (Selector s : selectors(q.expr())) {
        referenced.add(s.metric());
        Set<String> labels = new TreeSet<>(TARGET_LABELS);
        if (!WRITTEN_BY_PROMETHEUS.contains(s.metric())) {
          if (!exported.containsKey(s.metric())) {
            missing.add(q.where() + " queries " + s.metric() + ", which no service exports");
            continue;
          }
          labels.addAll(exported.get(s.metric()));
        }
        for (String l : s.labels()) {
          if (!labels.contains(l)) {
            missing.add(
                q.where()
                    + " selects "
                    + s.metric()
                    + " on label "
                    + l
                    + " (it has "
                    + labels
                    + ")");
          }
        }
      }
    }
    assertThat(missing).as("exported: %s", exported.keySet()).isEmpty();
    // the parser found the queries' metrics, so an empty list above means something
    assertThat(referenced)
        .hasSizeGreaterThan(20)
        .contains(
            "millrace_upload_seconds_count",
            "millrace_upload_seconds_bucket",
            "millrace_queue_max_bytes",
            "millrace_queue_oldest_unstored_age_seconds",
            "millrace_ready",
            "millrace_ready_check",
            "millrace_pipeline_stage_out_total",
            "millrace_pipeline_stage_in_flight",
            "up");
  }

  @Test
  void theQueryParserFindsMetricsAndTheirLabelsButNotFunctionsOrGroupingLabels() {
    String q =
        "sum by (status) (rate(foo_total{status=~\"5..\", job=\"a{b}\"}[1m] offset 5m))\n"
            + " / on(instance) group_left(x) bar > bool 0.5 and baz{} # qux_total\n"
            + " or label_replace(max without(le) (q:r_seconds_bucket[$__rate_interval]),"
            + " \"dst\", \"$1\", \"src\", \"(.*)\") unless topk(3, w) * 1e3";
    assertThat(selectors(q))
        .containsExactly(
            new Selector("foo_total", Set.of("status", "job")),
            new Selector("bar", Set.of()),
            new Selector("baz", Set.of()),
            new Selector("q:r_seconds_bucket", Set.of()),
            new Selector("w", Set.of()));
  }

  /** {@return the metrics and their labels in PromQL query {@code q}, in order} */
  static List<Selector> selectors(String q) {
    List<Selector> out = new ArrayList<>();
    int n = q.length();
    int i = 0;
    while (i < n) {
      char c = q.charAt(i);
      if (c == '#') {
        i = q.indexOf('\n', i) < 0 ? n : q.indexOf('\n', i);
      } else if (c == '"' || c == '\'') {
        i = stringEnd(q, i);
      } else if (c == '[') {
        i = closing(q, i, ']') + 1; // a range or subquery: durations and variables only
      } else if (c == '$' || Character.isDigit(c)) {
        i = skipWord(q, i + 1); // a Grafana variable, a number or a duration
      } else if (Character.isLetter(c) || c == '_' || c == ':') {
        int start = i;
        i = skipWord(q, i);
        String word = q.substring(start, i);
        int next = skipSpaces(q, i);
        boolean call = next < n && q.charAt(next) == '(';
        if (LABEL_LISTS.contains(word.toLowerCase())) {
          i = call ? closing(q, next, ')') + 1 : i;
        } else if (!call
            && !KEYWORDS.contains(word.toLowerCase())
            && !AGGREGATIONS.contains(word.toLowerCase())) {
          Set<String> labels = new TreeSet<>();
          if (next < n && q.charAt(next) == '{') {
            int close = closing(q, next, '}');
            String inner = STRING.matcher(q.substring(next + 1, close)).replaceAll("\"\"");
            MATCHER.matcher(inner).results().forEach(m -> labels.add(m.group(1)));
            i = close + 1;
          }
          out.add(new Selector(word, labels));
        }
      } else if (c == '{') {
        throw new AssertionError("a selector without a metric name in " + q);
      } else {
        i++;
      }
    }
    return out;
  }

  /** {@return the index of the first {@code close} after {@code open}, past any string} */
  private static int closing(String q, int open, char close) {
    int i = open + 1;
    while (i < q.length() && q.charAt(i) != close) {
      char c = q.charAt(i);
      i = c == '"' || c == '\'' ? stringEnd(q, i) : i + 1;
    }
    if (i == q.length()) {
      throw new AssertionError("no " + close + " after " + open + " in " + q);
    }
    return i;
  }

  private static int stringEnd(String q, int i) {
    Matcher m = STRING.matcher(q).region(i, q.length());
    if (!m.lookingAt()) {
      throw new AssertionError("an unclosed string at " + i + " in " + q);
    }
    return m.end();
  }

  private static int skipWord(String q, int i) {
    while (i < q.length()
        && (Character.isLetterOrDigit(q.charAt(i)) || "_:.".indexOf(q.charAt(i)) >= 0)) {
      i++;
    }
    return i;
  }

  private static int skipSpaces(String q, int i) {
    while (i < q.length() && Character.isWhitespace(q.charAt(i))) {
      i++;
    }
    return i;
  }

  /** {@return the alert names in the rules file} */
  static List<String> alerts() throws IOException {
    Pattern alert = Pattern.compile("^\\s*- alert:\\s*(\\S+)\\s*$");
    return Files.readAllLines(RULES).stream()
        .map(alert::matcher)
        .filter(Matcher::matches)
        .map(m -> m.group(1))
        .toList();
  }

  /** {@return each rule's {@code expr}, one-line or a block scalar ({@code |}, {@code >-})} */
  static List<Query> ruleQueries() throws IOException {
    List<String> lines = Files.readAllLines(RULES);
    Pattern alert = Pattern.compile("^\\s*- alert:\\s*(\\S+)\\s*$");
    Pattern expr = Pattern.compile("^(\\s*)expr:\\s*(.*?)\\s*$");
    List<Query> out = new ArrayList<>();
    String where = null;
    for (int i = 0; i < lines.size(); i++) {
      Matcher a = alert.matcher(lines.get(i));
      if (a.matches()) {
        where = "alert " + a.group(1);
      }
      Matcher e = expr.matcher(lines.get(i));
      if (!e.matches()) {
        continue;
      }
      String value = e.group(2);
      if (value.startsWith("|") || value.startsWith(">")) {
        int indent = e.group(1).length();
        StringBuilder b = new StringBuilder();
        while (i + 1 < lines.size()
            && (lines.get(i + 1).isBlank()
                || lines.get(i + 1).indexOf(lines.get(i + 1).strip()) > indent)) {
          b.append(lines.get(++i)).append('\n');
        }
        value = b.toString();
      } else if (value.startsWith("'") || value.startsWith("\"")) {
        value = value.substring(1, value.length() - 1);
      }
      out.add(new Query(where, value));
    }
    assertThat(out).as("one expr per alert").hasSize(alerts().size());
    return out;
  }

  /** {@return every panel target's {@code expr} and every query variable's query} */
  @SuppressWarnings("unchecked")
  static List<Query> dashboardQueries() throws IOException {
    Map<String, Object> dash;
    try (JsonParser p = new JsonFactory().createParser(DASHBOARD.toFile())) {
      p.nextToken();
      dash = (Map<String, Object>) read(p);
    }
    assertThat(dash).containsEntry("schemaVersion", 39);
    List<Query> out = new ArrayList<>();
    for (Object o : (List<Object>) dash.get("panels")) {
      Map<String, Object> panel = (Map<String, Object>) o;
      if (panel.get("type").equals("row")) {
        continue;
      }
      String where = "dashboard panel '" + panel.get("title") + "'";
      assertThat(panel.get("datasource"))
          .as(where)
          .isEqualTo(Map.of("type", "prometheus", "uid", "${datasource}"));
      List<Object> targets = (List<Object>) panel.get("targets");
      assertThat(targets).as(where).isNotEmpty();
      for (Object t : targets) {
        out.add(new Query(where, (String) ((Map<String, Object>) t).get("expr")));
      }
    }
    Map<String, Object> templating = (Map<String, Object>) dash.get("templating");
    for (Object o : (List<Object>) templating.get("list")) {
      Map<String, Object> v = (Map<String, Object>) o;
      if (v.get("type").equals("query")) {
        String query = (String) ((Map<String, Object>) v.get("query")).get("query");
        Matcher m = LABEL_VALUES.matcher(query);
        assertThat(m.matches())
            .as("variable %s: label_values(selector, label)", v.get("name"))
            .isTrue();
        // the label it lists must exist too: check it as if the selector matched on it
        String sel = m.group(1).strip();
        String label = m.group(2) + "=\"\"";
        sel =
            sel.endsWith("}")
                ? sel.substring(0, sel.length() - 1) + ", " + label + "}"
                : sel + "{" + label + "}";
        out.add(new Query("dashboard variable " + v.get("name"), sel));
      }
    }
    return out;
  }

  /** {@return the JSON value at the parser's current token, as maps, lists and scalars} */
  private static Object read(JsonParser p) throws IOException {
    JsonToken t = p.currentToken();
    switch (t) {
      case START_OBJECT -> {
        Map<String, Object> m = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String k = p.currentName();
          p.nextToken();
          m.put(k, read(p));
        }
        return m;
      }
      case START_ARRAY -> {
        List<Object> l = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          l.add(read(p));
        }
        return l;
      }
      case VALUE_STRING -> {
        return p.getText();
      }
      case VALUE_NUMBER_INT -> {
        return p.getIntValue();
      }
      case VALUE_NUMBER_FLOAT -> {
        return p.getDoubleValue();
      }
      case VALUE_TRUE, VALUE_FALSE -> {
        return p.getBooleanValue();
      }
      default -> {
        return null;
      }
    }
  }

  Map<String, Set<String>> scrapeMemoryMode() throws Exception {
    try (IngestService s =
        IngestService.start(TestSupport.config(dir.resolve("memory"), Map.of()))) {
      return loadAndScrape(s);
    }
  }

  Map<String, Set<String>> scrapeJetStreamMode() throws Exception {
    String stream =
        "S" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36).toUpperCase();
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_QUEUE", NATS_URL);
    env.put("MILLRACE_NATS_STREAM", stream);
    env.put("MILLRACE_NATS_SUBJECT", stream.toLowerCase() + ".payloads");
    env.put("MILLRACE_NATS_DEAD_SUBJECT", stream.toLowerCase() + ".dead");
    try (IngestService s = IngestService.start(TestSupport.config(dir.resolve("nats"), env))) {
      return loadAndScrape(s);
    } finally {
      try (Connection nc = Nats.connect(NATS_URL)) {
        for (String name : List.of(stream, stream + "_DEAD")) {
          try {
            nc.jetStreamManagement().deleteStream(name);
          } catch (JetStreamApiException e) {
            // not created
          }
        }
      }
    }
  }

  /** Posts accepted and refused requests, waits until stored, and scrapes: name → labels. */
  private static Map<String, Set<String>> loadAndScrape(IngestService s) throws Exception {
    for (int r = 0; r < 5; r++) {
      String body = "{\"payloads\":[{\"r\":" + r + "},{\"i\":1},{\"i\":2}]}";
      assertThat(RawHttp.post(s.port(), "application/json", utf8(body)).status()).isEqualTo(202);
    }
    assertThat(RawHttp.post(s.port(), "text/plain", utf8("x")).status()).isEqualTo(415);
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> metric(s.port(), "millrace_payloads_stored_total") >= 15);
    Map<String, Set<String>> out = new TreeMap<>();
    Pattern label = Pattern.compile("\\G,?([a-zA-Z_]\\w*)=\"(?:[^\"\\\\]|\\\\.)*\"");
    for (String line : RawHttp.get(s.port(), "/metrics").text().split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.indexOf(' ');
      boolean labelled = brace > 0 && brace < space;
      Set<String> labels =
          out.computeIfAbsent(line.substring(0, labelled ? brace : space), k -> new TreeSet<>());
      if (labelled) {
        Matcher m = label.matcher(line).region(brace + 1, line.length());
        while (m.find()) {
          labels.add(m.group(1));
        }
      }
    }
    return out;
  }

  /** Runs promtool from the PATH; fails with its output unless it exits 0 within a minute. */
  static String promtool(String... args) throws Exception {
    Path exe = null;
    for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(d, "promtool");
      if (exe == null && Files.isExecutable(p)) {
        exe = p;
      }
    }
    if (exe == null) {
      fail("promtool is not on the PATH: install Debian's prometheus package (.ci/run does)");
    }
    List<String> cmd = new ArrayList<>(List.of(exe.toString()));
    cmd.addAll(List.of(args));
    File log = Files.createTempFile("promtool", ".log").toFile();
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("promtool did not end within 60 s: " + cmd);
      }
      String out = Files.readString(log.toPath(), StandardCharsets.UTF_8);
      assertThat(p.exitValue()).as("%s\n%s", String.join(" ", cmd), out).isZero();
      return out;
    } finally {
      Files.deleteIfExists(log.toPath());
    }
  }

  private static String yamlEscape(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  private static Path deployDir() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isRegularFile(d.resolve("deploy/prometheus/millrace-alerts.yml"))) {
        return d.resolve("deploy");
      }
    }
    throw new IllegalStateException("no deploy/ folder above " + Path.of("").toAbsolutePath());
  }
}
