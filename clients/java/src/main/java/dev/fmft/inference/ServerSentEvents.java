package dev.fmft.inference;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * Reads server-sent events (the WHATWG HTML "event stream" format) one at a time: lines ending in CR, LF or CRLF;
 * {@code event} and {@code data} fields, several {@code data} lines joined by LF; comments and other fields
 * skipped; an event dispatched at a blank line, and only when it had data.
 */
final class ServerSentEvents implements Closeable {

  /** One event: its name ({@code message} when the stream names none) and its data. */
  record Event(String name, String data) {}

  private final BufferedReader reader;
  private boolean firstLine = true;

  ServerSentEvents(InputStream in) {
    this.reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
  }

  /** The next event, or null when the stream ends (an event cut off by the end is dropped, as the format says). */
  Event next() throws IOException {
    String name = null;
    StringBuilder data = null;
    String line;
    while ((line = reader.readLine()) != null) {
      if (firstLine) {
        firstLine = false;
        if (line.startsWith("\uFEFF")) line = line.substring(1);
      }
      if (line.isEmpty()) {
        if (data != null) return new Event(name == null || name.isEmpty() ? "message" : name, data.toString());
        name = null;
        continue;
      }
      if (line.startsWith(":")) continue;
      int colon = line.indexOf(':');
      String field = colon < 0 ? line : line.substring(0, colon);
      String value = colon < 0 ? "" : line.substring(colon + 1);
      if (value.startsWith(" ")) value = value.substring(1);
      if (field.equals("event")) {
        name = value;
      } else if (field.equals("data")) {
        if (data == null) data = new StringBuilder();
        else data.append('\n');
        data.append(value);
      }
    }
    return null;
  }

  @Override
  public void close() throws IOException {
    reader.close();
  }
}
