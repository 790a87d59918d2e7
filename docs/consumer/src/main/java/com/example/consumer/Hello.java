package com.example.consumer;

import io.millrace.pipeline.Pipeline;
import java.util.List;

/** Lower-cases three words on up to two threads, in order, and prints them. */
public final class Hello {
  private Hello() {}

  /**
   * Runs the pipeline.
   *
   * @param args ignored
   */
  public static void main(String[] args) {
    List<String> out =
        Pipeline.from(List.of("FOO", "BAR", "BAX")).mapConcurrent(2, String::toLowerCase).toList();
    System.out.println(String.join(",", out));
  }
}
