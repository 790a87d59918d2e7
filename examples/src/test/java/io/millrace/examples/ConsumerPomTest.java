package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library as a dependency, as docs/library.md says: the millrace-pipeline jar of this build is
 * installed into the local Maven repository, then the minimal consumer project in {@code
 * docs/consumer} is built by a separate Maven and run on the module path.
 */
class ConsumerPomTest {

  @Test
  void theMinimalConsumerProjectBuildsAndRunsOnTheModulePath() throws Exception {
    Path root = root();
    Path jar = root.resolve("pipeline/target/millrace-pipeline-0.1.0-SNAPSHOT.jar");
    assertThat(jar).as("the pipeline jar of this build").exists();
    Path work = root.resolve("examples/target/consumer");
    deleteTree(work);
    copyTree(root.resolve("docs/consumer"), work);

    run(
        work,
        mvn(),
        "-B",
        "-q",
        "install:install-file",
        "-Dfile=" + root.resolve("pom.xml"),
        "-DpomFile=" + root.resolve("pom.xml"),
        "-Dpackaging=pom");
    run(
        work,
        mvn(),
        "-B",
        "-q",
        "install:install-file",
        "-Dfile=" + jar,
        "-DpomFile=" + root.resolve("pipeline/pom.xml"));
    run(work, mvn(), "-B", "-q", "package");

    Path consumerJar = work.resolve("target/consumer.jar");
    assertThat(consumerJar).exists();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String out =
        run(
            work,
            java,
            "-p",
            consumerJar + File.pathSeparator + jar,
            "-m",
            "com.example.consumer/com.example.consumer.Hello");
    assertThat(out.strip()).isEqualTo("foo,bar,bax");
  }

  private static String mvn() {
    String home = System.getenv("MAVEN_HOME");
    if (home != null && Files.isExecutable(Path.of(home, "bin", "mvn"))) {
      return Path.of(home, "bin", "mvn").toString();
    }
    return "mvn";
  }

  private static String run(Path dir, String... command) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(command));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Path log = Files.createTempFile("consumer", ".log");
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError("timed out: " + cmd);
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    Files.deleteIfExists(log);
    assertThat(p.exitValue()).as("%s printed:%n%s", cmd, out).isZero();
    return out;
  }

  private static Path root() {
    Path dir = Path.of("").toAbsolutePath();
    while (!Files.exists(dir.resolve("docs/consumer/pom.xml"))) {
      dir = dir.getParent();
      assertThat(dir).as("the repository root above the module").isNotNull();
    }
    return dir;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path p : all.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
