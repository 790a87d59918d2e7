package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's two commands go through {@code ./millrace}, which must find a JDK 21 or newer by
 * itself, and say clearly when there is none.
 */
class LauncherTest {
  private static final Path LAUNCHER = Path.of("..", "millrace").toAbsolutePath().normalize();

  record Result(int status, String out, String err) {}

  private static Result launch(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder();
    pb.command().add(LAUNCHER.toString());
    pb.command().addAll(List.of(args));
    pb.environment().remove("JAVA_HOME");
    pb.environment().put("PATH", "/usr/bin:/bin");
    pb.environment().putAll(env);
    Process p = pb.start();
    p.getOutputStream().close();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("launcher finished").isTrue();
    return new Result(
        p.exitValue(),
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
        new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  /** A folder that looks like a JDK whose java says it is version 17. */
  private static Path fakeJdk17(Path dir) throws IOException {
    Path bin = Files.createDirectories(dir.resolve("jdk17/bin"));
    Path java = bin.resolve("java");
    Files.writeString(
        java, "#!/bin/sh\necho '    java.specification.version = 17' >&2\necho 'openjdk 17' >&2\n");
    Files.writeString(bin.resolve("javac"), "#!/bin/sh\nexit 0\n");
    java.toFile().setExecutable(true);
    bin.resolve("javac").toFile().setExecutable(true);
    return dir.resolve("jdk17");
  }

  @Test
  void findsAJdk21OrNewerWithNothingExported(@TempDir Path tmp) throws Exception {
    Path old = fakeJdk17(tmp);
    String current = System.getProperty("java.home");
    Result r = launch(Map.of("MILLRACE_JDK_DIRS", old + " " + current), "jdk");
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out()).startsWith(current + " (" + Runtime.version().feature() + ")");
  }

  @Test
  void skipsAJavaHomeThatIsTooOld(@TempDir Path tmp) throws Exception {
    Path old = fakeJdk17(tmp);
    String current = System.getProperty("java.home");
    Result r = launch(Map.of("JAVA_HOME", old.toString(), "MILLRACE_JDK_DIRS", current), "jdk");
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out()).startsWith(current + " (");
  }

  @Test
  void saysClearlyWhenThereIsNoJdk21(@TempDir Path tmp) throws Exception {
    Path old = fakeJdk17(tmp);
    Result r =
        launch(
            Map.of(
                "JAVA_HOME", old.toString(), "MILLRACE_JDK_DIRS", tmp.resolve("none").toString()),
            "test");
    assertThat(r.status()).isEqualTo(1);
    assertThat(r.err())
        .contains("no JDK >= 21 found")
        .contains("JAVA_HOME=" + old)
        .contains("Millrace needs a JDK 21 or newer");
  }

  @Test
  void anUnknownCommandPrintsTheUsage() throws Exception {
    Result r = launch(Map.of("MILLRACE_JDK_DIRS", System.getProperty("java.home")), "frobnicate");
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).contains("./millrace run").contains("./millrace test");
  }
}
