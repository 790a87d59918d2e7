package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.pipeline.Pipeline;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Keeps docs/from-go.md honest: its Java compiles, and the tests it cites exist. */
@Timeout(120)
class FromGoDocTest {

  /** Surefire runs in the module's directory. */
  private static final Path DOC = Path.of("..", "docs", "from-go.md");

  private static final String IMPORTS =
      """
      import io.millrace.pipeline.*;
      import java.io.IOException;
      import java.time.Duration;
      import java.util.*;
      import java.util.concurrent.*;
      import java.util.concurrent.atomic.*;
      import java.util.function.*;
      """;

  private static String doc() throws IOException {
    return Files.readString(DOC);
  }

  private static List<String> javaBlocks(String markdown) {
    List<String> blocks = new ArrayList<>();
    Matcher m = Pattern.compile("(?ms)^```java\\n(.*?)^```").matcher(markdown);
    while (m.find()) {
      blocks.add(m.group(1));
    }
    return blocks;
  }

  /** A block starting with {@code static} holds class members; any other, a method body. */
  static String compilationUnit(String className, String block) {
    String body =
        block.startsWith("static ")
            ? block
            : "  @SuppressWarnings(\"unused\")\n  void body() throws Exception {\n"
                + block
                + "\n  }\n";
    return IMPORTS + "\nclass " + className + " {\n" + body + "}\n";
  }

  @Test
  void everyJavaSnippetCompilesAgainstTheLibrary(@TempDir Path out) throws Exception {
    List<String> blocks = javaBlocks(doc());
    assertThat(blocks).hasSizeGreaterThan(10);

    List<JavaFileObject> units = new ArrayList<>();
    for (int i = 0; i < blocks.size(); i++) {
      String name = "Snippet" + (i + 1);
      String source = compilationUnit(name, blocks.get(i));
      units.add(
          new SimpleJavaFileObject(
              URI.create("string:///" + name + ".java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
              return source;
            }
          });
    }
    // surefire may hide the class path behind a manifest jar: name the library's location directly
    String libraryPath =
        Path.of(Pipeline.class.getProtectionDomain().getCodeSource().getLocation().toURI())
            .toString();
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertThat(javac).as("tests need a JDK, not a JRE").isNotNull();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    boolean ok =
        javac
            .getTask(
                null,
                null,
                diagnostics,
                List.of("-proc:none", "-classpath", libraryPath, "-d", out.toString()),
                null,
                units)
            .call();

    List<String> errors = new ArrayList<>();
    for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
      if (d.getKind() == Diagnostic.Kind.ERROR) {
        errors.add(
            d.getSource().getName() + ":" + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT));
      }
    }
    assertThat(errors).as("errors in docs/from-go.md's java blocks (numbered from 1)").isEmpty();
    assertThat(ok).isTrue();
  }

  @Test
  void aBrokenSnippetWouldFailTheCheck() {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    String source =
        compilationUnit("Broken", "Pipeline.from(List.of(1)).mapConcurrently(2, i -> i);\n");
    JavaFileObject unit =
        new SimpleJavaFileObject(URI.create("string:///Broken.java"), JavaFileObject.Kind.SOURCE) {
          @Override
          public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return source;
          }
        };
    String libraryPath;
    try {
      libraryPath =
          Path.of(Pipeline.class.getProtectionDomain().getCodeSource().getLocation().toURI())
              .toString();
    } catch (java.net.URISyntaxException e) {
      throw new AssertionError(e);
    }
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    boolean ok =
        javac
            .getTask(
                null,
                null,
                diagnostics,
                List.of(
                    "-proc:none",
                    "-classpath",
                    libraryPath,
                    "-d",
                    System.getProperty("java.io.tmpdir")),
                null,
                List.of(unit))
            .call();
    assertThat(ok).isFalse();
  }

  @Test
  void everyTestTheDocCitesExists() throws Exception {
    String doc = doc();
    // `SomeTest.someMethod`, and bare `someMethod` names that follow one in the same paragraph
    Set<String> cited = new LinkedHashSet<>();
    List<String> missing = new ArrayList<>();
    for (String paragraph : doc.split("\\n\\s*\\n")) {
      if (paragraph.startsWith("```")) {
        continue;
      }
      Matcher m =
          Pattern.compile("`(\\w+Test)(?:\\.(\\w+))?`|`([a-z]\\w{24,})`").matcher(paragraph);
      Class<?> current = null;
      while (m.find()) {
        if (m.group(1) != null) {
          current = testClass(m.group(1));
          if (current == null) {
            missing.add(m.group(1));
            continue;
          }
          cited.add(m.group(1));
          if (m.group(2) != null) {
            checkMethod(current, m.group(2), cited, missing);
          }
        } else if (current != null) {
          checkMethod(current, m.group(3), cited, missing);
        } else {
          missing.add(m.group(3) + " (no test class before it)");
        }
      }
    }
    assertThat(cited).hasSizeGreaterThan(20);
    assertThat(missing).as("tests cited in docs/from-go.md that do not exist").isEmpty();
  }

  private static Class<?> testClass(String simpleName) {
    for (String pkg : List.of("io.millrace.pipeline.", "io.millrace.examples.")) {
      try {
        return Class.forName(pkg + simpleName);
      } catch (ClassNotFoundException e) {
        // try the next package
      }
    }
    return null;
  }

  private static void checkMethod(
      Class<?> c, String name, Set<String> cited, List<String> missing) {
    for (Method method : c.getDeclaredMethods()) {
      if (method.getName().equals(name)) {
        cited.add(c.getSimpleName() + "." + name);
        return;
      }
    }
    missing.add(c.getSimpleName() + "." + name);
  }
}
