package io.millrace.ingest.queue.memory;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.queue.Job;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpillFileTest {
  @TempDir Path dir;

  static Job job(String id) {
    return new Job(id, 1_000L, "{\"a\":1}".getBytes(StandardCharsets.UTF_8), null);
  }

  @Test
  void aReplayedGroupSpilledAgainGetsANewNameAndSurvivesTheOldFilesDeletion() throws Exception {
    List<Job> group = List.of(job("run1-000000000001"), job("run1-000000000002"));
    Spill.write(dir, "run1", List.of(group), List.of());
    List<SpillFile> replayed = Spill.load(dir);
    assertThat(replayed).hasSize(1);

    // the next run spills the same group again, then deletes what it replayed
    List<Job> again = new java.util.ArrayList<>();
    for (Spill.Line l : replayed.getFirst().lines()) {
      again.add(new Job(l.id(), l.at(), l.payload(), null));
    }
    Spill.write(dir, "run2", List.of(again), List.of());
    replayed.forEach(SpillFile::delete);

    List<SpillFile> left = Spill.load(dir);
    assertThat(left).hasSize(1);
    assertThat(left.getFirst().lines())
        .extracting(Spill.Line::id)
        .containsExactly("run1-000000000001", "run1-000000000002");
    assertThat(left.getFirst().path().getFileName().toString()).contains("run2");
  }

  @Test
  void deleteLeavesAFileThatTookTheNameSince() throws Exception {
    Spill.write(dir, "run1", List.of(List.of(job("run1-000000000001"))), List.of());
    SpillFile read = Spill.load(dir).getFirst();
    Path path = read.path();
    Path other = dir.resolve("other.tmp");
    Files.writeString(other, "{\"id\":\"x-1\",\"at\":1,\"payload\":2}\n");
    Files.move(other, path, java.nio.file.StandardCopyOption.REPLACE_EXISTING);

    read.delete();

    assertThat(path).exists();
  }
}
