package io.millrace.ingest.workers;

import com.github.luben.zstd.RecyclingBufferPool;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * How a batch object's NDJSON is encoded ({@code MILLRACE_COMPRESSION}): the encoder, the object
 * key's suffix and the {@code Content-Encoding} that go with it.
 *
 * <ul>
 *   <li>{@link #GZIP}: gzip at level 1 (speed over ratio: it runs on the workers' cores), {@code
 *       .ndjson.gz}, {@code Content-Encoding: gzip}. Today's format.
 *   <li>{@link #ZSTD}: one Zstandard frame at level {@value #ZSTD_LEVEL}, {@code .ndjson.zst},
 *       {@code Content-Encoding: zstd} (RFC 8878).
 *   <li>{@link #NONE}: the NDJSON as is, {@code .ndjson}, no {@code Content-Encoding}.
 * </ul>
 *
 * <p>Encoders are not thread-safe; each call makes a new one. An NDJSON batch is the payloads in
 * order, each followed by {@code '\n'}.
 */
public enum Compression {
  /** gzip, level 1. */
  GZIP("gzip", ".ndjson.gz", "gzip"),
  /** Zstandard, level {@value #ZSTD_LEVEL}. */
  ZSTD("zstd", ".ndjson.zst", "zstd"),
  /** None. */
  NONE("none", ".ndjson", null);

  /** The zstd level: 1 is zstd's fastest regular level, and still smaller than gzip -1 here. */
  public static final int ZSTD_LEVEL = 1;

  private final String configName;
  private final String suffix;
  private final String contentEncoding;

  Compression(String configName, String suffix, String contentEncoding) {
    this.configName = configName;
    this.suffix = suffix;
    this.contentEncoding = contentEncoding;
  }

  /**
   * Reads a {@code MILLRACE_COMPRESSION} value.
   *
   * @param value {@code gzip}, {@code zstd} or {@code none}, in any case, surrounding blanks
   *     ignored
   * @return the compression
   * @throws IllegalArgumentException naming the value and the accepted ones
   */
  public static Compression parse(String value) {
    String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
    for (Compression c : values()) {
      if (c.configName.equals(v)) {
        return c;
      }
    }
    throw new IllegalArgumentException(
        "'" + value + "' is not a compression (accepted: gzip, zstd, none)");
  }

  /** {@return the name {@link #parse} accepts: gzip, zstd or none} */
  public String configName() {
    return configName;
  }

  /**
   * {@return the object key's suffix: {@code .ndjson.gz}, {@code .ndjson.zst} or {@code .ndjson}}
   */
  public String suffix() {
    return suffix;
  }

  /** {@return the {@code Content-Encoding} to store with the object, empty for none} */
  public Optional<String> contentEncoding() {
    return Optional.ofNullable(contentEncoding);
  }

  /**
   * Wraps {@code out} in a streaming encoder. Closing the encoder finishes the stream (the gzip
   * trailer, the zstd frame's end) and closes {@code out}.
   *
   * @param out where the encoded bytes go
   * @return the encoder
   * @throws IOException if the encoder cannot be set up
   */
  public OutputStream encoder(OutputStream out) throws IOException {
    return switch (this) {
      case GZIP -> new FastGzip(out);
      case ZSTD -> new ZstdOutputStreamNoFinalizer(out, RecyclingBufferPool.INSTANCE, ZSTD_LEVEL);
      case NONE -> new Plain(out);
    };
  }

  /**
   * Wraps {@code in} in a decoder of what {@link #encoder} wrote.
   *
   * @param in the encoded bytes
   * @return the decoded bytes; closing it closes {@code in}
   * @throws IOException if the stream's header is not this encoding's
   */
  public InputStream decoder(InputStream in) throws IOException {
    return switch (this) {
      case GZIP -> new GZIPInputStream(in, 8192);
      case ZSTD -> new ZstdInputStreamNoFinalizer(in, RecyclingBufferPool.INSTANCE);
      case NONE -> in;
    };
  }

  /** How many bytes of lines {@link #encodeNdjson} hands to the encoder per call. */
  private static final int STAGE_BYTES = 64 << 10;

  /**
   * Encodes payloads as one NDJSON object body.
   *
   * @param payloads the payloads in order, each one line of JSON without its newline; not changed
   * @return the encoded body
   */
  public byte[] encodeNdjson(List<byte[]> payloads) {
    long raw = 0;
    for (byte[] p : payloads) {
      raw += p.length + 1L;
    }
    // a guess at the encoded size, so the buffer rarely grows: NDJSON of this kind packs 4-8x
    int guess = (int) Math.min(Integer.MAX_VALUE - 64, this == NONE ? raw : raw / 3 + 64);
    ByteArrayOutputStream buf = new ByteArrayOutputStream(Math.max(64, guess));
    // lines are gathered into one stage and handed to the encoder a stage at a time: a native
    // encoder pays per call, and two calls per payload (the line, its newline) cost more than the
    // copy
    byte[] stage = new byte[(int) Math.min(STAGE_BYTES, Math.max(1, raw))];
    int used = 0;
    try (OutputStream enc = encoder(buf)) {
      for (byte[] p : payloads) {
        if (used + p.length + 1 > stage.length) {
          enc.write(stage, 0, used);
          used = 0;
          if (p.length + 1 > stage.length) {
            enc.write(p);
            enc.write('\n');
            continue;
          }
        }
        System.arraycopy(p, 0, stage, used, p.length);
        used += p.length;
        stage[used++] = '\n';
      }
      enc.write(stage, 0, used);
    } catch (IOException e) {
      // in-memory streams do not fail; a native encoder that does is a bug
      throw new IllegalStateException("encoding an NDJSON batch as " + configName + " failed", e);
    }
    return buf.toByteArray();
  }

  /** No encoding: bytes pass through in whole arrays (FilterOutputStream writes one at a time). */
  private static final class Plain extends FilterOutputStream {
    Plain(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }
  }

  /** gzip at level 1, with an 8 KiB deflate buffer. */
  private static final class FastGzip extends GZIPOutputStream {
    FastGzip(OutputStream out) throws IOException {
      super(out, 8192);
      def.setLevel(Deflater.BEST_SPEED);
    }
  }
}
