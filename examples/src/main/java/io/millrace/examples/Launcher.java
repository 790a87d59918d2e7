package io.millrace.examples;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The jar's entry point: runs {@link Examples} on this JVM if it is Java 21 or newer, and otherwise
 * runs it again on a JDK 21+ it finds ({@code $JAVA_HOME}, then {@code /usr/lib/jvm/*}), so that
 * {@code java -jar millrace-examples.jar} works even when the {@code java} on the path is older.
 *
 * <p>Compiled for Java 8 (unlike the rest of this module, which needs 21), so that an old JVM can
 * load it and say what is wrong instead of failing with {@code UnsupportedClassVersionError}.
 */
public final class Launcher {

  private static final int NEEDED = 21;

  private Launcher() {}

  /**
   * Runs the examples named in {@code args}, or all of them.
   *
   * @param args example names, passed on to {@link Examples#main}
   * @throws Exception if {@link Examples#main} throws
   */
  public static void main(String[] args) throws Exception {
    int running = feature(System.getProperty("java.specification.version"));
    if (running >= NEEDED) {
      try {
        Class.forName("io.millrace.examples.Examples")
            .getMethod("main", String[].class)
            .invoke(null, (Object) args);
      } catch (InvocationTargetException e) {
        Throwable cause = e.getCause();
        if (cause instanceof Exception) {
          throw (Exception) cause;
        }
        throw (Error) cause;
      }
      return;
    }
    String java = findJava();
    if (java == null) {
      System.err.println(
          "Millrace needs Java "
              + NEEDED
              + " or newer; this is Java "
              + running
              + " ("
              + System.getProperty("java.home")
              + ") and no newer JDK was found in $JAVA_HOME or /usr/lib/jvm."
              + " Run it as: \"$JAVA_HOME/bin/java\" -jar millrace-examples.jar");
      System.exit(1);
    }
    File jar = new File(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> command = new ArrayList<String>();
    command.add(java);
    command.add("-cp");
    command.add(jar.getPath());
    command.add("io.millrace.examples.Examples");
    command.addAll(Arrays.asList(args));
    System.err.println("(Java " + running + " is too old for Millrace; running with " + java + ")");
    Process p = new ProcessBuilder(command).inheritIO().start();
    System.exit(p.waitFor());
  }

  /**
   * The java launcher of a JDK 21+: {@code $JAVA_HOME} first, then the newest under /usr/lib/jvm.
   */
  static String findJava() {
    String javaHome = System.getenv("JAVA_HOME");
    if (javaHome != null && !javaHome.isEmpty() && usable(new File(javaHome)) > 0) {
      return javaOf(new File(javaHome)).getPath();
    }
    File best = null;
    int bestVersion = 0;
    File[] installed = new File("/usr/lib/jvm").listFiles();
    if (installed != null) {
      for (File home : installed) {
        int v = usable(home);
        if (v > bestVersion) {
          best = home;
          bestVersion = v;
        }
      }
    }
    return best == null ? null : javaOf(best).getPath();
  }

  private static File javaOf(File home) {
    return new File(new File(home, "bin"), "java");
  }

  /** The JDK's feature version if it is at least 21 and has a java launcher, else 0. */
  private static int usable(File home) {
    int v = releaseVersion(home);
    return v >= NEEDED && javaOf(home).canExecute() ? v : 0;
  }

  /** The feature version in {@code <home>/release}, or 0 if there is none. */
  static int releaseVersion(File home) {
    File release = new File(home, "release");
    if (!release.isFile()) {
      return 0;
    }
    try {
      for (String line : Files.readAllLines(release.toPath(), StandardCharsets.UTF_8)) {
        if (line.startsWith("JAVA_VERSION=")) {
          return feature(line.substring("JAVA_VERSION=".length()).replace("\"", ""));
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return 0;
  }

  /** {@code "1.8.0_402"} → 8, {@code "17"} → 17, {@code "25.0.1"} → 25; 0 if unreadable. */
  static int feature(String version) {
    if (version == null) {
      return 0;
    }
    String v = version.startsWith("1.") ? version.substring(2) : version;
    int end = 0;
    while (end < v.length() && Character.isDigit(v.charAt(end))) {
      end++;
    }
    return end == 0 ? 0 : Integer.parseInt(v.substring(0, end));
  }
}
