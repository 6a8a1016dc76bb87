package dev.fmft.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fmft.inference.model.AnswerRequest;
import dev.fmft.inference.model.ClassifyRequest;
import dev.fmft.inference.model.FieldError;
import dev.fmft.inference.model.GenerateRequest;
import dev.fmft.inference.model.StreamDone;
import dev.fmft.inference.model.SummarizeRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

/**
 * Every case of the shared vectors (api/vectors/vectors.json) against the local server: the result or the error,
 * the attempts the server counted and the waits the client chose, exactly.
 */
class VectorsTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Reads a case's body into a generated request model only when every member has a place in it. */
  private static final ObjectMapper STRICT = InferenceClient.MAPPER.copy().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private static LocalServer server;

  @BeforeAll
  static void startServer() throws Exception {
    server = LocalServer.start();
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) server.close();
  }

  static JsonNode vectors() throws IOException {
    Path file = LocalServer.repoRoot().resolve("api").resolve("vectors").resolve("vectors.json");
    return JSON.readTree(Files.readString(file));
  }

  @TestFactory
  Stream<DynamicTest> sharedVectors() throws IOException {
    JsonNode vectors = vectors();
    assertTrue(vectors.path("cases").size() > 0, "vectors.json has no cases");
    return StreamSupport.stream(vectors.path("cases").spliterator(), false)
        .map(c -> DynamicTest.dynamicTest(c.path("name").asText(), () -> {
          try {
            run(vectors, c);
          } catch (AssertionError failed) {
            // Named, so that a failure in Maven's summary says which vector it is.
            throw new AssertionError(c.path("name").asText() + ": " + failed.getMessage(), failed);
          }
        }));
  }

  private static void run(JsonNode vectors, JsonNode testCase) throws Exception {
    server.script(testCase.path("script"));
    List<Duration> waits = new ArrayList<>();
    InferenceClient client = client(vectors, testCase.path("client"), waits);
    JsonNode call = testCase.path("call");
    JsonNode expect = testCase.path("expect");

    Object result = null;
    InferenceException error = null;
    List<String> streamed = new ArrayList<>();
    try {
      result = invoke(client, call, streamed);
    } catch (InferenceException e) {
      error = e;
    }

    if (expect.has("result")) {
      if (error != null) throw new AssertionError("expected a result, got " + error, error);
      assertEquals(expect.get("result"), result, "result");
    } else {
      if (error == null) fail("expected the error " + expect.get("error") + ", got the result " + result);
      assertError(expect.get("error"), error, streamed);
    }
    assertEquals(expect.path("attempts").asInt(), server.requests().size(), "attempts the server counted");
    List<Double> expectedWaits = new ArrayList<>();
    expect.path("waitsSeconds").forEach(w -> expectedWaits.add(w.asDouble()));
    assertEquals(expectedWaits, waits.stream().map(w -> w.toNanos() / 1e9).toList(), "waits in seconds");

    if ("sigv4".equals(testCase.path("client").path("auth").asText())) {
      for (JsonNode request : server.requests()) {
        assertTrue(request.path("headers").path("authorization").asText().startsWith("AWS4-HMAC-SHA256 "), "signed with SigV4");
        assertFalse(request.path("headers").has("x-api-key"), "no API key with sigv4");
      }
    }
  }

  private static InferenceClient client(JsonNode vectors, JsonNode settings, List<Duration> waits) {
    JsonNode policy = vectors.path("retryPolicy");
    JsonNode serverSettings = vectors.path("server");
    RetryPolicy retryPolicy = new RetryPolicy(
        settings.path("maxAttempts").asInt(policy.path("maxAttempts").asInt()),
        seconds(policy.path("baseDelaySeconds")),
        seconds(policy.path("maxDelaySeconds")),
        seconds(settings.has("maxWaitSeconds") ? settings.path("maxWaitSeconds") : policy.path("maxWaitSeconds")));
    InferenceClient.Builder builder = InferenceClient.builder()
        .baseUri(server.url())
        .retryPolicy(retryPolicy)
        .sleeper(waits::add);
    String jitter = policy.path("jitter").asText("full");
    if (jitter.equals("none")) builder.jitter(() -> 1.0);
    else if (!jitter.equals("full")) fail("unknown jitter " + jitter);
    String auth = settings.path("auth").asText("api-key");
    if (auth.equals("sigv4")) {
      JsonNode credentials = serverSettings.path("credentials");
      builder.awsCredentials(AwsCredentialsIdentity.create(credentials.path("accessKeyId").asText(), credentials.path("secretAccessKey").asText()))
          .region(serverSettings.path("region").asText());
    } else if (auth.equals("api-key")) {
      builder.apiKey(settings.path("apiKey").asText(serverSettings.path("apiKey").asText()));
    } else {
      fail("unknown auth " + auth);
    }
    return builder.build();
  }

  private static Duration seconds(JsonNode value) {
    return Duration.ofNanos(Math.round(value.asDouble() * 1e9));
  }

  /** Calls the operation the typed way when the body fits its request model, else with the body as it is. */
  private static JsonNode invoke(InferenceClient client, JsonNode call, List<String> streamed) {
    String model = call.path("model").asText(null);
    JsonNode body = call.get("body");
    switch (call.path("operation").asText()) {
      case "listModels":
        return tree(client.listModels());
      case "generate": {
        GenerateRequest request = typed(body, GenerateRequest.class);
        return tree(request != null ? client.generate(model, request) : client.call("POST", InferenceClient.route(model, "generate"), body, Object.class));
      }
      case "classify": {
        ClassifyRequest request = typed(body, ClassifyRequest.class);
        return tree(request != null ? client.classify(model, request) : client.call("POST", InferenceClient.route(model, "classify"), body, Object.class));
      }
      case "summarize": {
        SummarizeRequest request = typed(body, SummarizeRequest.class);
        return tree(request != null ? client.summarize(model, request) : client.call("POST", InferenceClient.route(model, "summarize"), body, Object.class));
      }
      case "answer": {
        AnswerRequest request = typed(body, AnswerRequest.class);
        return tree(request != null ? client.answer(model, request) : client.call("POST", InferenceClient.route(model, "answer"), body, Object.class));
      }
      case "generateStream": {
        GenerateRequest request = typed(body, GenerateRequest.class);
        try (TokenStream stream = request != null ? client.generateStream(model, request) : client.stream(InferenceClient.route(model, "generate-stream"), body)) {
          for (String token : stream) streamed.add(token);
          StreamDone done = stream.done();
          ObjectNode result = JsonNodeFactory.instance.objectNode();
          ArrayNode tokens = result.putArray("tokens");
          streamed.forEach(tokens::add);
          result.set("done", tree(done));
          return result;
        }
      }
      default:
        throw new AssertionError("unknown operation " + call.path("operation"));
    }
  }

  private static <T> T typed(JsonNode body, Class<T> type) {
    try {
      return STRICT.treeToValue(body, type);
    } catch (IOException doesNotFit) {
      return null;
    }
  }

  private static JsonNode tree(Object value) {
    return InferenceClient.MAPPER.valueToTree(value);
  }

  private static void assertError(JsonNode expected, InferenceException error, List<String> streamed) {
    ApiException api = assertInstanceOf(ApiException.class, error, () -> "an ApiException, got " + error);
    assertTrue(api.isProblem(), "a problem document");
    assertEquals(expected.path("code").asText(), api.code(), "code");
    assertEquals(expected.path("status").asInt(), api.status(), "status");
    assertEquals(expected.path("retryable").asBoolean(), api.isRetryable(), "retryable");
    if (expected.has("retryAfterSeconds")) {
      assertEquals(expected.path("retryAfterSeconds").asInt(), api.retryAfterSeconds().orElse(-1), "retryAfterSeconds");
    } else {
      assertTrue(api.retryAfterSeconds().isEmpty(), "no retryAfterSeconds");
    }
    if (expected.has("fields")) {
      Set<String> fields = new HashSet<>();
      expected.path("fields").forEach(f -> fields.add(f.asText()));
      assertEquals(fields, new HashSet<>(api.errors().stream().map(FieldError::getField).toList()), "the fields errors names");
    }
    if (expected.has("tokens")) {
      StreamException stream = assertInstanceOf(StreamException.class, error, "a StreamException");
      List<String> tokens = new ArrayList<>();
      expected.path("tokens").forEach(t -> tokens.add(t.asText()));
      assertEquals(tokens, stream.tokens(), "tokens received before the error");
      assertEquals(tokens, streamed, "tokens handed out before the error");
    }
  }
}
