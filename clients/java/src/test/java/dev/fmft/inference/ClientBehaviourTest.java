package dev.fmft.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.fmft.inference.model.ClassifyRequest;
import dev.fmft.inference.model.GenerateRequest;
import dev.fmft.inference.model.GenerateResponse;
import dev.fmft.inference.model.GenerationParameters;
import dev.fmft.inference.model.StreamDone;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;
import software.amazon.awssdk.identity.spi.AwsSessionCredentialsIdentity;

/**
 * What the shared vectors cannot script: a proxy's error pages, Retry-After headers of both kinds, malformed
 * streams, requests as sent. Against an in-process JDK HTTP server that answers from a queue.
 */
class ClientBehaviourTest {

  /** One canned answer. */
  record Answer(int status, Map<String, String> headers, String body) {}

  /** One request as received. */
  record Received(String method, String path, Headers headers, String body) {}

  private static final String BREAK_OFF = "X-Test-Break-Off";
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
  private static final String OK = "{\"model\":\"serving\",\"text\":\"ok\",\"finishReason\":\"stop\",\"cached\":false}";

  private HttpServer server;
  private final ConcurrentLinkedQueue<Answer> answers = new ConcurrentLinkedQueue<>();
  private final List<Received> received = new CopyOnWriteArrayList<>();
  private final List<Duration> waits = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", this::answer);
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private void answer(HttpExchange exchange) throws IOException {
    String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(), exchange.getRequestHeaders(), body));
    Answer answer = answers.poll();
    if (answer == null) answer = new Answer(500, Map.of("Content-Type", "text/plain"), "no answer queued");
    answer.headers().forEach((name, value) -> exchange.getResponseHeaders().add(name, value));
    byte[] bytes = answer.body().getBytes(StandardCharsets.UTF_8);
    if (answer.headers().containsKey(BREAK_OFF)) {
      // Promise more than is sent, then hang up: the body breaks off after the status line.
      exchange.sendResponseHeaders(answer.status(), bytes.length + 100);
      exchange.getResponseBody().write(bytes);
      exchange.getResponseBody().flush();
      exchange.getHttpContext().getServer().stop(0);
      return;
    }
    exchange.sendResponseHeaders(answer.status(), bytes.length == 0 ? -1 : bytes.length);
    if (bytes.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
    exchange.close();
  }

  private void queue(int status, String contentType, String body, String... headers) {
    java.util.LinkedHashMap<String, String> all = new java.util.LinkedHashMap<>();
    all.put("Content-Type", contentType);
    for (int i = 0; i < headers.length; i += 2) all.put(headers[i], headers[i + 1]);
    answers.add(new Answer(status, all, body));
  }

  private static String problem(String code, int status, boolean retryable, Integer retryAfterSeconds) {
    return "{\"type\":\"urn:fmft:problem:" + code + "\",\"title\":\"t\",\"status\":" + status + ",\"retryable\":" + retryable
        + (retryAfterSeconds == null ? "" : ",\"retryAfterSeconds\":" + retryAfterSeconds) + ",\"instance\":\"req-1\"}";
  }

  private URI base() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/v1");
  }

  private InferenceClient.Builder client() {
    return InferenceClient.builder().baseUri(base()).apiKey("k").sleeper(waits::add).jitter(() -> 1.0).clock(Clock.fixed(NOW, ZoneOffset.UTC));
  }

  private static GenerateRequest hi() {
    return new GenerateRequest().prompt("hi");
  }

  @Test
  void retriesAProxysPageOf502503And504() {
    queue(502, "text/html", "<html>Bad Gateway</html>");
    queue(503, "text/html", "<html>Service Unavailable</html>");
    queue(200, "application/json", OK);
    GenerateResponse response = client().retryPolicy(new RetryPolicy(3, Duration.ofMillis(500), Duration.ofSeconds(8), Duration.ofSeconds(30))).build().generate("serving", hi());
    assertEquals("ok", response.getText());
    assertEquals(3, received.size());
    assertEquals(List.of(Duration.ofMillis(500), Duration.ofSeconds(1)), waits);
  }

  @Test
  void raisesAProxysPageAsAnErrorWithoutAProblem() {
    queue(504, "text/html", "<html>Gateway Timeout</html>");
    queue(504, "text/html", "<html>Gateway Timeout</html>");
    queue(504, "text/html", "<html>Gateway Timeout</html>");
    ApiException e = assertThrows(ApiException.class, () -> client().build().generate("serving", hi()));
    assertFalse(e.isProblem());
    assertNull(e.code());
    assertEquals(504, e.status());
    assertEquals("HTTP 504", e.title());
    assertEquals("<html>Gateway Timeout</html>", e.detail());
    assertTrue(e.isRetryable());
    assertEquals(3, received.size(), "maxAttempts of the default policy");
  }

  @Test
  void doesNotRetryAnotherNonProblemError() {
    queue(500, "text/html", "<html>oops</html>");
    queue(429, "text/plain", "slow down");
    ApiException e = assertThrows(ApiException.class, () -> client().build().generate("serving", hi()));
    assertEquals(500, e.status());
    assertFalse(e.isRetryable());
    assertEquals(1, received.size());
    ApiException e429 = assertThrows(ApiException.class, () -> client().build().generate("serving", hi()));
    assertEquals(429, e429.status());
    assertEquals(2, received.size(), "a 429 that is not a problem is not retried either");
    assertTrue(waits.isEmpty());
  }

  @Test
  void honoursRetryAfterAsAnHttpDate() {
    String in7Seconds = DateTimeFormatter.RFC_1123_DATE_TIME.format(NOW.plusSeconds(7).atOffset(ZoneOffset.UTC));
    queue(429, "application/problem+json", problem("model-throttled", 429, true, 2), "Retry-After", in7Seconds);
    queue(200, "application/json", OK);
    client().build().generate("serving", hi());
    assertEquals(List.of(Duration.ofSeconds(7)), waits, "the header's date, not the problem's 2 seconds");
  }

  @Test
  void prefersTheRetryAfterHeaderToTheProblemsSeconds() {
    queue(503, "application/problem+json", problem("unavailable", 503, true, 5), "Retry-After", "3");
    queue(200, "application/json", OK);
    client().build().generate("serving", hi());
    assertEquals(List.of(Duration.ofSeconds(3)), waits);
  }

  @Test
  void raisesAtOnceAWaitLongerThanMaxWait() {
    queue(429, "application/problem+json", problem("quota-exceeded", 429, true, 3600), "Retry-After", "3600");
    ApiException e = assertThrows(ApiException.class, () -> client().build().generate("serving", hi()));
    assertEquals("quota-exceeded", e.code());
    assertEquals(3600, e.retryAfterSeconds().getAsInt());
    assertEquals("3600", e.retryAfterHeader().orElseThrow());
    assertEquals("req-1", e.instance());
    assertEquals(1, received.size());
    assertTrue(waits.isEmpty());
  }

  @Test
  void fullJitterScalesTheBackoffButNotRetryAfter() {
    queue(502, "text/html", "proxy");
    queue(429, "application/problem+json", problem("throttled", 429, true, 1));
    queue(200, "application/json", OK);
    client().jitter(() -> 0.25).build().generate("serving", hi());
    assertEquals(List.of(Duration.ofMillis(125), Duration.ofSeconds(1)), waits, "0.5 s * 0.25, then max(1 s * 0.25, 1 s)");
  }

  @Test
  void retriesAConnectionThatFailsBeforeAnyAnswer() throws IOException {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    InferenceClient client = client().baseUri(URI.create("http://127.0.0.1:" + closedPort + "/v1/")).build();
    TransportException e = assertThrows(TransportException.class, () -> client.listModels());
    assertTrue(e.isRetryable());
    assertEquals(List.of(Duration.ofMillis(500), Duration.ofSeconds(1)), waits);
  }

  @Test
  void doesNotRetryAnAnswerThatBreaksOffAfterItsStatusLine() {
    queue(200, "application/json", "{\"model\":", BREAK_OFF, "yes");
    queue(200, "application/json", OK);
    TransportException e = assertThrows(TransportException.class, () -> client().build().generate("serving", hi()));
    assertFalse(e.isRetryable(), "the server answered, and may have done the work");
    assertEquals(1, received.size());
    assertTrue(waits.isEmpty());
  }

  @Test
  void sendsTheRequestAsTheApiDocumentsIt() {
    queue(200, "application/json", OK);
    client().build().generate("a b/c", new GenerateRequest().prompt("hi").parameters(new GenerationParameters().maxNewTokens(64).temperature(new BigDecimal("0.7"))));
    Received request = received.get(0);
    assertEquals("POST", request.method());
    assertEquals("/v1/models/a%20b%2Fc/generate", request.path(), "the model id is one path segment");
    assertEquals("k", request.headers().getFirst("x-api-key"));
    assertEquals("application/json", request.headers().getFirst("content-type"));
    assertEquals(InferenceClient.USER_AGENT, request.headers().getFirst("user-agent"));
    assertTrue(request.body().contains("\"temperature\":0.7"), request.body());
    assertFalse(request.body().contains("system"), "unset members are not sent: " + request.body());
  }

  @Test
  void keepsTheOrderOfLabels() throws IOException {
    queue(200, "application/json", "{\"model\":\"m\",\"label\":\"c\",\"text\":\"C\",\"cached\":false}");
    client().build().classify("m", new ClassifyRequest().text("t").addLabelsItem("c").addLabelsItem("a").addLabelsItem("b"));
    assertTrue(received.get(0).body().contains("\"labels\":[\"c\",\"a\",\"b\"]"), received.get(0).body());
    ClassifyRequest read = InferenceClient.MAPPER.readValue("{\"text\":\"t\",\"labels\":[\"z\",\"y\",\"x\",\"w\"]}", ClassifyRequest.class);
    assertEquals(List.of("z", "y", "x", "w"), List.copyOf(read.getLabels()), "a set read from JSON keeps its order");
  }

  @Test
  void signsEachAttemptWithSigV4() {
    queue(429, "application/problem+json", problem("throttled", 429, true, 1));
    queue(200, "application/json", OK);
    InferenceClient client = InferenceClient.builder().baseUri(base()).sleeper(waits::add).jitter(() -> 1.0)
        .awsCredentials(AwsSessionCredentialsIdentity.create("AKIDEXAMPLE", "secret", "session-token"))
        .region("eu-west-1")
        .build();
    client.generate("serving", hi());
    assertEquals(2, received.size());
    for (Received request : received) {
      String authorization = request.headers().getFirst("authorization");
      assertTrue(authorization.startsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), authorization);
      assertTrue(authorization.contains("/eu-west-1/execute-api/aws4_request"), authorization);
      assertTrue(authorization.matches(".*SignedHeaders=[^,]*host[^,]*x-amz-date.*"), authorization);
      assertEquals("session-token", request.headers().getFirst("x-amz-security-token"));
      assertNull(request.headers().getFirst("x-api-key"));
      assertEquals(1, request.headers().get("host").size(), "one Host header");
    }
  }

  @Test
  void readsAStreamWhateverTheLineEndingsAndSkipsUnknownEvents() {
    queue(200, "text/event-stream; charset=utf-8",
        ": hello\r\nevent: token\r\ndata: {\"text\":\r\ndata: \"A\"}\r\n\r\nevent: progress\r\ndata: {}\r\n\r\nevent: token\r\ndata: {\"text\":\"B\",\"extra\":1}\r\n\r\n"
            + "event: done\r\ndata: {\"model\":\"serving\",\"finishReason\":\"stop\"}\r\n\r\n");
    List<String> tokens = new ArrayList<>();
    StreamDone done = client().build().generateStream("serving", hi(), tokens::add);
    assertEquals(List.of("A", "B"), tokens);
    assertEquals(StreamDone.FinishReasonEnum.STOP, done.getFinishReason());
    assertEquals("text/event-stream, application/problem+json", received.get(0).headers().getFirst("accept"));
  }

  @Test
  void retriesAStreamThatEndsBeforeItsFirstEvent() {
    queue(200, "text/event-stream", "");
    queue(200, "text/event-stream", "event: done\ndata: {\"model\":\"serving\",\"finishReason\":\"length\"}\n\n");
    try (TokenStream stream = client().build().generateStream("serving", hi())) {
      assertEquals(StreamDone.FinishReasonEnum.LENGTH, stream.done().getFinishReason());
      assertEquals(List.of(), stream.received());
    }
    assertEquals(2, received.size());
    assertEquals(List.of(Duration.ofMillis(500)), waits);
  }

  @Test
  void raisesAStreamThatEndsWithoutDoneWithItsTokens() {
    queue(200, "text/event-stream", "event: token\ndata: {\"text\":\"x\"}\n\n");
    TokenStream stream = client().build().generateStream("serving", hi());
    TransportException e = assertThrows(TransportException.class, () -> stream.tokens().forEach(t -> {}));
    assertFalse(e.isRetryable());
    assertEquals(List.of("x"), e.tokens());
    assertEquals(1, received.size(), "not retried after the first event");
    assertThrows(TransportException.class, stream::done, "the failure stays");
  }

  @Test
  void raisesAnErrorEventWithTheProblemItHolds() {
    queue(200, "text/event-stream", "event: token\ndata: {\"text\":\"a\"}\n\nevent: token\ndata: {\"text\":\"b\"}\n\nevent: error\ndata: "
        + problem("model-timeout", 504, true, 1) + "\n\n");
    StreamException e = assertThrows(StreamException.class, () -> client().build().generateStream("serving", hi()).done());
    assertEquals("model-timeout", e.code());
    assertEquals(504, e.status());
    assertTrue(e.isRetryable(), "the problem says a new request may succeed; the client itself does not retry");
    assertEquals(List.of("a", "b"), e.tokens());
    assertEquals(1, received.size());
  }

  @Test
  void refusesAStreamAnsweredWithSomethingElse() {
    queue(200, "application/json", OK);
    TransportException e = assertThrows(TransportException.class, () -> client().build().generateStream("serving", hi()));
    assertFalse(e.isRetryable());
    assertEquals(1, received.size());
  }

  @Test
  void namesEveryMissingSetting() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> InferenceClient.builder().region("us-east-1").build());
    assertTrue(e.getMessage().contains("baseUri is required"), e.getMessage());
    assertTrue(e.getMessage().contains("an apiKey or AWS credentials are required"), e.getMessage());
    assertTrue(e.getMessage().contains("region is only used with AWS credentials"), e.getMessage());
    IllegalStateException noRegion = assertThrows(IllegalStateException.class, () -> InferenceClient.builder().baseUri("ftp://x/")
        .awsCredentials(AwsCredentialsIdentity.create("a", "b")).build());
    assertTrue(noRegion.getMessage().contains("region is required with AWS credentials"), noRegion.getMessage());
    assertTrue(noRegion.getMessage().contains("absolute http or https URI"), noRegion.getMessage());
  }
}
