package io.millrace.pipeline;

import java.util.List;
import java.util.NoSuchElementException;

/**
 * A snapshot of every stage of a run, sources first, the sink last.
 *
 * @param stages one entry per stage
 */
public record PipelineStats(List<StageStats> stages) {

  /** Copies the list. */
  public PipelineStats {
    stages = List.copyOf(stages);
  }

  /**
   * {@return the stage with this name}
   *
   * @param name a stage name
   * @throws NoSuchElementException if there is none
   */
  public StageStats stage(String name) {
    for (StageStats s : stages) {
      if (s.name().equals(name)) {
        return s;
      }
    }
    throw new NoSuchElementException("no stage named '" + name + "' in " + names());
  }

  private List<String> names() {
    return stages.stream().map(StageStats::name).toList();
  }
}
