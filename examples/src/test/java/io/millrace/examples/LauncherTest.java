package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class LauncherTest {

  @Test
  void readsFeatureVersionsOfEveryScheme() {
    assertThat(Launcher.feature("1.8")).isEqualTo(8);
    assertThat(Launcher.feature("1.8.0_402")).isEqualTo(8);
    assertThat(Launcher.feature("17")).isEqualTo(17);
    assertThat(Launcher.feature("21.0.5")).isEqualTo(21);
    assertThat(Launcher.feature("25-ea")).isEqualTo(25);
    assertThat(Launcher.feature("")).isZero();
    assertThat(Launcher.feature(null)).isZero();
  }

  @Test
  void readsAJdksVersionFromItsReleaseFile(@TempDir Path home) throws Exception {
    assertThat(Launcher.releaseVersion(home.toFile())).isZero();
    Files.writeString(
        home.resolve("release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.1\"\n");
    assertThat(Launcher.releaseVersion(home.toFile())).isEqualTo(25);
  }

  @Test
  void theJdkRunningTheseTestsIsFoundOrAnotherNewEnoughOne() {
    // the tests run on a JDK 21+; when JAVA_HOME names one, it is what the launcher picks
    String found = Launcher.findJava();
    assertThat(found).isNotNull();
    File home = new File(found).getParentFile().getParentFile();
    assertThat(Launcher.releaseVersion(home)).isGreaterThanOrEqualTo(21);
    String javaHome = System.getenv("JAVA_HOME");
    if (javaHome != null && Launcher.releaseVersion(new File(javaHome)) >= 21) {
      assertThat(home).isEqualTo(new File(javaHome));
    }
  }
}
