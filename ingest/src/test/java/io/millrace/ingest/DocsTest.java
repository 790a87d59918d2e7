package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README is the front door: short, and every reference page in {@code docs/} is linked from it;
 * no relative link in the README or in {@code docs/} points at a file that does not exist.
 */
class DocsTest {
  private static final Pattern LINK = Pattern.compile("\\]\\(([^)#\\s]+)(#[^)\\s]*)?\\)");

  static Path root() {
    Path dir = Path.of("").toAbsolutePath();
    while (!Files.exists(dir.resolve("millrace")) || !Files.exists(dir.resolve("README.md"))) {
      dir = dir.getParent();
      assertThat(dir).as("the repository root above the module").isNotNull();
    }
    return dir;
  }

  @Test
  void theReadmeIsUnder200Lines() throws IOException {
    assertThat(Files.readAllLines(root().resolve("README.md"))).hasSizeLessThan(200);
  }

  @Test
  void everyDocsPageIsLinkedFromTheReadme() throws IOException {
    Path root = root();
    String readme = Files.readString(root.resolve("README.md"));
    try (Stream<Path> pages = Files.list(root.resolve("docs"))) {
      for (Path page : pages.filter(p -> p.toString().endsWith(".md")).toList()) {
        assertThat(readme)
            .as("README links docs/%s", page.getFileName())
            .contains("](docs/" + page.getFileName() + ")");
      }
    }
  }

  @Test
  void relativeLinksResolve() throws IOException {
    Path root = root();
    List<Path> files = new ArrayList<>(List.of(root.resolve("README.md")));
    try (Stream<Path> pages = Files.list(root.resolve("docs"))) {
      pages.filter(p -> p.toString().endsWith(".md")).forEach(files::add);
    }
    List<String> broken = new ArrayList<>();
    for (Path file : files) {
      Matcher m = LINK.matcher(Files.readString(file));
      while (m.find()) {
        String target = m.group(1);
        if (target.contains("://") || target.startsWith("mailto:")) {
          continue;
        }
        if (!Files.exists(file.getParent().resolve(target).normalize())) {
          broken.add(root.relativize(file) + " -> " + target);
        }
      }
    }
    assertThat(broken).as("relative links to missing files").isEmpty();
  }
}
