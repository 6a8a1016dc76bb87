package dev.fmft.inference;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fmft.inference.model.Problem;
import dev.fmft.inference.model.StreamDone;
import dev.fmft.inference.model.StreamToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The answer of {@code generate-stream}: the generated tokens as they arrive, then the {@link StreamDone} event.
 *
 * <pre>{@code
 * try (TokenStream stream = client.generateStream("serving", request)) {
 *   for (String token : stream) System.out.print(token);
 *   StreamDone done = stream.done();
 * }
 * }</pre>
 *
 * <p>Iterating reads the connection: a token is handed out as soon as its event arrives. An {@code error} event
 * is thrown from the iteration (or from {@link #done()}) as a {@link StreamException} with the tokens received
 * before it; a connection that breaks mid-stream as a {@link TransportException} with them. The stream can be
 * iterated once and is not thread-safe; close it to release the connection early.
 */
public final class TokenStream implements Iterable<String>, AutoCloseable {

  private final ServerSentEvents events;
  private final ObjectMapper mapper;
  private ServerSentEvents.Event pending;
  private final List<String> received = new ArrayList<>();
  private StreamDone done;
  private InferenceException failure;
  private boolean iterated;
  private boolean closed;

  /** A stream whose first event has arrived already: the client retries a request only until then. */
  TokenStream(ServerSentEvents events, ServerSentEvents.Event first, ObjectMapper mapper) {
    this.events = events;
    this.pending = first;
    this.mapper = mapper;
  }

  /** The tokens, read as they arrive; once only. */
  @Override
  public Iterator<String> iterator() {
    if (iterated) throw new IllegalStateException("A TokenStream can be iterated once");
    iterated = true;
    return new Iterator<>() {
      private String next;

      @Override
      public boolean hasNext() {
        if (next == null) next = readToken();
        return next != null;
      }

      @Override
      public String next() {
        if (!hasNext()) throw new NoSuchElementException("The stream is done");
        String token = next;
        next = null;
        return token;
      }
    };
  }

  /** The tokens as a {@link Stream}; closing it closes this stream. */
  public Stream<String> tokens() {
    return StreamSupport.stream(
            Spliterators.spliteratorUnknownSize(iterator(), Spliterator.ORDERED | Spliterator.NONNULL), false)
        .onClose(this::close);
  }

  /**
   * The {@code done} event: why generation ended, the model version that answered, the usage. Reads (and drops)
   * whatever tokens have not been iterated yet, so it can be called without iterating.
   *
   * @throws StreamException for an {@code error} event
   * @throws TransportException when the connection breaks, or the stream ends without {@code done}
   */
  public StreamDone done() {
    while (readToken() != null) {
      // the tokens are in received()
    }
    return done;
  }

  /** Every token read from the connection so far, in order. */
  public List<String> received() {
    return List.copyOf(received);
  }

  /** The next token, or null once {@code done} has arrived; throws the stream's failure. */
  private String readToken() {
    while (true) {
      if (failure != null) throw failure;
      if (done != null) return null;
      ServerSentEvents.Event event = pending;
      pending = null;
      if (event == null) {
        if (closed) throw fail(new TransportException("The stream was closed before its done event", null, false, received));
        try {
          event = events.next();
        } catch (IOException broken) {
          throw fail(new TransportException("The stream broke after " + received.size() + " tokens: " + broken, broken, false, received));
        }
        if (event == null) throw fail(new TransportException("The stream ended without a done event", null, false, received));
      }
      switch (event.name()) {
        case "token": {
          String text = parse(event, StreamToken.class).getText();
          String token = text == null ? "" : text;
          received.add(token);
          return token;
        }
        case "done":
          done = parse(event, StreamDone.class);
          close();
          return null;
        case "error":
          throw fail(new StreamException(parse(event, Problem.class), received));
        default:
          // An event this client does not know: later versions of the API may add some.
      }
    }
  }

  private <T> T parse(ServerSentEvents.Event event, Class<T> type) {
    try {
      return mapper.readValue(event.data(), type);
    } catch (JsonProcessingException malformed) {
      throw fail(new TransportException("The " + event.name() + " event is not the JSON the API documents: " + malformed.getOriginalMessage(), malformed, false, received));
    }
  }

  private InferenceException fail(InferenceException error) {
    failure = error;
    close();
    return error;
  }

  /** Releases the connection; a stream not read to its end is cut off. */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    try {
      events.close();
    } catch (IOException ignored) {
      // Closing a connection that is already gone: nothing is lost.
    }
  }
}
