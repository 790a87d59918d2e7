/** A program that uses millrace-pipeline from the module path. */
module com.example.consumer {
  requires io.millrace.pipeline;
}
