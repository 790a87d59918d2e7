package io.millrace.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a JMH CSV result file ({@code -rf csv}) of these benchmarks into the Markdown tables of
 * BENCHMARKS.md. {@code java -cp bench/target/benchmarks.jar io.millrace.bench.Tables <csv>}.
 */
public final class Tables {
  private Tables() {}

  /** One row of the JMH CSV. */
  record Result(String bench, String impl, Map<String, String> params, double score, double error) {
    String param(String name) {
      return params.getOrDefault(name, "");
    }
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: Tables <jmh-result.csv>");
      System.exit(2);
    }
    List<Result> results = read(Path.of(args[0]));
    System.out.print(render(results));
  }

  static List<Result> read(Path csv) throws IOException {
    List<String> lines = Files.readAllLines(csv);
    List<String> header = split(lines.get(0));
    List<Result> out = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank()) {
        continue;
      }
      List<String> f = split(line);
      String full = f.get(0);
      int dot = full.lastIndexOf('.');
      String bench = full.substring(full.lastIndexOf('.', dot - 1) + 1, dot);
      Map<String, String> params = new LinkedHashMap<>();
      for (int i = 7; i < header.size() && i < f.size(); i++) {
        params.put(header.get(i).replace("Param: ", ""), f.get(i));
      }
      out.add(
          new Result(
              bench,
              full.substring(dot + 1),
              params,
              Double.parseDouble(f.get(4)),
              parseOrNaN(f.get(5))));
    }
    return out;
  }

  private static double parseOrNaN(String s) {
    try {
      return Double.parseDouble(s);
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  private static List<String> split(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        out.add(cur.toString());
        cur.setLength(0);
      } else {
        cur.append(c);
      }
    }
    out.add(cur.toString());
    return out;
  }

  /** Millrace's rows first, then the peers, each group in JMH's (alphabetical) order. */
  private static List<Result> millraceFirst(List<Result> rows) {
    List<Result> out = new ArrayList<>();
    rows.stream().filter(r -> r.impl().startsWith("millrace")).forEach(out::add);
    rows.stream().filter(r -> !r.impl().startsWith("millrace")).forEach(out::add);
    return out;
  }

  static String render(List<Result> results) {
    StringBuilder sb = new StringBuilder();
    perElement(sb, "A. 3-stage chain of cheap maps, 1M ints", "ChainBenchmark", results);
    ioBound(sb, results);
    perElement(sb, "C. batch(1000, 50 ms), 1M ints", "BatchBenchmark", results);
    channels(sb, results);
    return sb.toString();
  }

  private static void perElement(
      StringBuilder sb, String title, String bench, List<Result> results) {
    List<Result> rows =
        millraceFirst(results.stream().filter(r -> r.bench().equals(bench)).toList());
    if (rows.isEmpty()) {
      return;
    }
    double millrace =
        rows.stream()
            .filter(r -> r.impl().equals("millrace"))
            .mapToDouble(Result::score)
            .findFirst()
            .orElse(Double.NaN);
    sb.append("### ").append(title).append("\n\n");
    sb.append(
        "| implementation | ns/element | ± (99.9%) | Millrace ÷ this (< 1: Millrace faster) |\n");
    sb.append("| --- | ---: | ---: | ---: |\n");
    for (Result r : rows) {
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %.1f | %.1f | %.2f |%n",
              r.impl(),
              r.score(),
              r.error(),
              millrace / r.score()));
    }
    sb.append('\n');
  }

  private static void ioBound(StringBuilder sb, List<Result> results) {
    List<Result> rows =
        millraceFirst(results.stream().filter(r -> r.bench().equals("IoBoundBenchmark")).toList());
    if (rows.isEmpty()) {
      return;
    }
    sb.append("### B. I/O-bound: 10,000 calls of 10 ms, ordered output\n\n");
    sb.append("| implementation | concurrency | wall ms | ± (99.9%) | ideal ms | × ideal |\n");
    sb.append("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    List<Result> sorted = new ArrayList<>(rows);
    sorted.sort(
        (a, b) ->
            Integer.compare(
                Integer.parseInt(a.param("concurrency")),
                Integer.parseInt(b.param("concurrency"))));
    for (Result r : sorted) {
      int c = Integer.parseInt(r.param("concurrency"));
      double ideal = (double) IoBoundBenchmark.ITEMS * IoBoundBenchmark.LATENCY_MS / c;
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %.1f | %.1f | %.0f | %.3f |%n",
              r.impl(),
              c,
              r.score(),
              r.error(),
              ideal,
              r.score() / ideal));
    }
    sb.append('\n');
  }

  private static void channels(StringBuilder sb, List<Result> results) {
    List<Result> rows =
        millraceFirst(results.stream().filter(r -> r.bench().equals("ChannelBenchmark")).toList());
    if (rows.isEmpty()) {
      return;
    }
    sb.append("### D. Channel throughput, 1M ints, capacity 256, virtual threads\n\n");
    sb.append(
        "| implementation | producers × consumers | ns/element | ± (99.9%) | Millrace ÷ this (< 1:"
            + " Millrace faster) |\n");
    sb.append("| --- | ---: | ---: | ---: | ---: |\n");
    List<Result> sorted = new ArrayList<>(rows);
    sorted.sort(
        (a, b) ->
            Integer.compare(
                Integer.parseInt(a.param("threads")), Integer.parseInt(b.param("threads"))));
    for (Result r : sorted) {
      String t = r.param("threads");
      double millrace =
          rows.stream()
              .filter(m -> m.impl().equals("millrace") && m.param("threads").equals(t))
              .mapToDouble(Result::score)
              .findFirst()
              .orElse(Double.NaN);
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %s × %s | %.1f | %.1f | %.2f |%n",
              r.impl(),
              t,
              t,
              r.score(),
              r.error(),
              millrace / r.score()));
    }
    sb.append('\n');
  }
}
