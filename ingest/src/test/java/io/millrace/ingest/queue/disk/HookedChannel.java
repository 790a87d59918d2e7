package io.millrace.ingest.queue.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/**
 * A real file channel with hooks before each write and after each force: the documented substitute
 * for a full disk where no small file system can be mounted, and a witness of what was forced.
 */
final class HookedChannel extends FileChannel {
  /** What the hooks see. */
  interface Hooks {
    /** Called before bytes are written at a position; throw to fail the write. */
    default void beforeWrite(Path path, long position, int bytes) throws IOException {}

    /** Called before a force; throw to fail it (after the bytes were written, not forced). */
    default void beforeForce(Path path) throws IOException {}

    /** Called after a force returned; {@code size} is the file's size at that moment. */
    default void afterForce(Path path, long size) {}
  }

  static ChannelOpener opener(Hooks hooks) {
    return (path, options) -> new HookedChannel(path, FileChannel.open(path, options), hooks);
  }

  /**
   * A disk that is full while {@code full} says so: writes of more than {@code overBytes} bytes
   * fail with "No space left on device" (0: every write fails; a larger bound lets small records
   * through, as a nearly full disk does).
   */
  static ChannelOpener fullDisk(BooleanSupplier full, int overBytes) {
    return fullDisk(full, overBytes, () -> false);
  }

  /**
   * As {@link #fullDisk(BooleanSupplier, int)}, and forces fail while {@code forceFails} says so.
   */
  static ChannelOpener fullDisk(BooleanSupplier full, int overBytes, BooleanSupplier forceFails) {
    return opener(
        new Hooks() {
          @Override
          public void beforeWrite(Path path, long position, int bytes) throws IOException {
            if (full.getAsBoolean() && bytes > overBytes) {
              throw new IOException("No space left on device");
            }
          }

          @Override
          public void beforeForce(Path path) throws IOException {
            if (forceFails.getAsBoolean()) {
              throw new IOException("Input/output error");
            }
          }
        });
  }

  private final Path path;
  private final FileChannel delegate;
  private final Hooks hooks;

  private HookedChannel(Path path, FileChannel delegate, Hooks hooks) {
    this.path = path;
    this.delegate = delegate;
    this.hooks = hooks;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return delegate.read(dst);
  }

  @Override
  public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
    return delegate.read(dsts, offset, length);
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    hooks.beforeWrite(path, delegate.position(), src.remaining());
    return delegate.write(src);
  }

  @Override
  public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    throw new UnsupportedOperationException("gathering writes are not used by the log");
  }

  @Override
  public long position() throws IOException {
    return delegate.position();
  }

  @Override
  public FileChannel position(long newPosition) throws IOException {
    delegate.position(newPosition);
    return this;
  }

  @Override
  public long size() throws IOException {
    return delegate.size();
  }

  @Override
  public FileChannel truncate(long size) throws IOException {
    delegate.truncate(size);
    return this;
  }

  @Override
  public void force(boolean metaData) throws IOException {
    hooks.beforeForce(path);
    delegate.force(metaData);
    hooks.afterForce(path, delegate.size());
  }

  @Override
  public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
    return delegate.transferTo(position, count, target);
  }

  @Override
  public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
    throw new UnsupportedOperationException("not used by the log");
  }

  @Override
  public int read(ByteBuffer dst, long position) throws IOException {
    return delegate.read(dst, position);
  }

  @Override
  public int write(ByteBuffer src, long position) throws IOException {
    hooks.beforeWrite(path, position, src.remaining());
    return delegate.write(src, position);
  }

  @Override
  public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
    throw new UnsupportedOperationException("not used by the log");
  }

  @Override
  public FileLock lock(long position, long size, boolean shared) throws IOException {
    return delegate.lock(position, size, shared);
  }

  @Override
  public FileLock tryLock(long position, long size, boolean shared) throws IOException {
    return delegate.tryLock(position, size, shared);
  }

  @Override
  protected void implCloseChannel() throws IOException {
    delegate.close();
  }
}
