package io.millrace.ingest.queue.disk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;

/** Opens the files of the log; tests substitute one that fails like a full disk. */
@FunctionalInterface
interface ChannelOpener {
  ChannelOpener DEFAULT = FileChannel::open;

  FileChannel open(Path path, OpenOption... options) throws IOException;
}
