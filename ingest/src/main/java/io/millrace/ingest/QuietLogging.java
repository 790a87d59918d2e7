package io.millrace.ingest;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.LayoutBase;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * Logback's configuration, in code: the service's own INFO lines and everyone else's warnings, on
 * stderr. Found by logback through {@code META-INF/services}; it replaces XML configuration, whose
 * parser alone costs a few hundred milliseconds of start-up. {@code
 * -Dlogback.configurationFile=...} still wins.
 */
public final class QuietLogging extends ContextAwareBase implements Configurator {
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

  /** Creates the configurator (logback does). */
  public QuietLogging() {}

  @Override
  public ExecutionStatus configure(LoggerContext ctx) {
    if (System.getProperty("logback.configurationFile") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
    encoder.setContext(ctx);
    Line layout = new Line();
    layout.setContext(ctx);
    layout.start();
    encoder.setLayout(layout);
    encoder.start();
    ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
    console.setContext(ctx);
    console.setName("stderr");
    console.setTarget("System.err");
    console.setEncoder(encoder);
    console.start();
    Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.WARN);
    root.addAppender(console);
    ctx.getLogger("io.millrace").setLevel(Level.INFO);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  /** {@code HH:mm:ss.SSS LEVEL Logger - message}, then the stack trace if any. */
  static final class Line extends LayoutBase<ILoggingEvent> {
    @Override
    public String doLayout(ILoggingEvent e) {
      StringBuilder sb = new StringBuilder(128);
      sb.append(TIME.format(LocalTime.ofInstant(e.getInstant(), ZoneId.systemDefault())))
          .append(' ')
          .append(e.getLevel())
          .append(' ');
      String name = e.getLoggerName();
      sb.append(name, name.lastIndexOf('.') + 1, name.length())
          .append(" - ")
          .append(e.getFormattedMessage())
          .append('\n');
      if (e.getThrowableProxy() != null) {
        sb.append(ThrowableProxyUtil.asString(e.getThrowableProxy())).append('\n');
      }
      return sb.toString();
    }
  }
}
