package dev.fmft.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServerSentEventsTest {

  private static List<ServerSentEvents.Event> read(String stream) throws IOException {
    List<ServerSentEvents.Event> events = new ArrayList<>();
    try (ServerSentEvents reader = new ServerSentEvents(new ByteArrayInputStream(stream.getBytes(StandardCharsets.UTF_8)))) {
      for (ServerSentEvents.Event e = reader.next(); e != null; e = reader.next()) events.add(e);
    }
    return events;
  }

  @Test
  void readsNamedEventsAsTheHandlerWritesThem() throws IOException {
    assertEquals(
        List.of(new ServerSentEvents.Event("token", "{\"text\":\"Hel\"}"), new ServerSentEvents.Event("done", "{}")),
        read("event: token\ndata: {\"text\":\"Hel\"}\n\nevent: done\ndata: {}\n\n"));
  }

  @Test
  void acceptsCrLfAndCrLineEndings() throws IOException {
    assertEquals(
        List.of(new ServerSentEvents.Event("token", "a"), new ServerSentEvents.Event("token", "b")),
        read("event: token\r\ndata: a\r\n\r\nevent: token\rdata: b\r\r"));
  }

  @Test
  void joinsDataLinesAndSkipsCommentsAndOtherFields() throws IOException {
    assertEquals(
        List.of(new ServerSentEvents.Event("message", "one\ntwo"), new ServerSentEvents.Event("x", " spaced")),
        read("\uFEFF: keep-alive\nid: 7\nretry: 100\ndata:one\ndata: two\n\nevent:x\ndata:  spaced\n\n"));
  }

  @Test
  void dropsAnEventWithoutDataAndOneCutOffByTheEnd() throws IOException {
    assertEquals(List.of(new ServerSentEvents.Event("ok", "1")), read("event: empty\n\nevent: ok\ndata: 1\n\nevent: cut\ndata: 2\n"));
    try (ServerSentEvents reader = new ServerSentEvents(new ByteArrayInputStream(new byte[0]))) {
      assertNull(reader.next());
    }
  }
}
