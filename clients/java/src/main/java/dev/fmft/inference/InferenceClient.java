package dev.fmft.inference;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import dev.fmft.inference.model.AnswerRequest;
import dev.fmft.inference.model.AnswerResponse;
import dev.fmft.inference.model.ClassifyRequest;
import dev.fmft.inference.model.ClassifyResponse;
import dev.fmft.inference.model.GenerateRequest;
import dev.fmft.inference.model.GenerateResponse;
import dev.fmft.inference.model.ModelList;
import dev.fmft.inference.model.Problem;
import dev.fmft.inference.model.StreamDone;
import dev.fmft.inference.model.SummarizeRequest;
import dev.fmft.inference.model.SummarizeResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;
import software.amazon.awssdk.identity.spi.IdentityProvider;

/**
 * A client of the fine-tuned model inference API (api/openapi.json): one request and response format for every
 * model the platform serves. Each call retries as its {@link RetryPolicy} says and throws an
 * {@link InferenceException} when it fails. Instances are immutable and thread-safe; share one.
 *
 * <pre>{@code
 * InferenceClient client = InferenceClient.builder()
 *     .baseUri(URI.create("https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1/"))
 *     .apiKey(System.getenv("FMFT_API_KEY"))
 *     .build();
 * GenerateResponse answer = client.generate("serving", new GenerateRequest().prompt("Hello"));
 * }</pre>
 */
public final class InferenceClient {

  /** The {@code User-Agent} of every request. */
  public static final String USER_AGENT = "fmft-inference-client-java/0.1.0";

  private static final String JSON = "application/json";
  private static final String PROBLEM_JSON = "application/problem+json";
  private static final String EVENT_STREAM = "text/event-stream";

  /**
   * The mapper of bodies: members the client does not know are skipped (the API may add some), unset members are
   * not sent, and a set ({@code uniqueItems}, e.g. classify's labels) keeps its order.
   */
  static final ObjectMapper MAPPER = JsonMapper.builder()
      .addModule(new SimpleModule("fmft-ordered-sets").addAbstractTypeMapping(Set.class, LinkedHashSet.class))
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN)
      .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
      .build();

  private final URI baseUri;
  private final String apiKey;
  private final SigV4 sigV4;
  private final RetryPolicy retryPolicy;
  private final Sleeper sleeper;
  private final DoubleSupplier jitter;
  private final Clock clock;
  private final HttpClient http;
  private final Duration requestTimeout;

  private InferenceClient(Builder b) {
    String base = b.baseUri.toString();
    this.baseUri = URI.create(base.endsWith("/") ? base : base + "/");
    this.apiKey = b.apiKey;
    this.clock = b.clock;
    this.sigV4 = b.credentials == null ? null : new SigV4(b.credentials, b.region, b.clock);
    this.retryPolicy = b.retryPolicy;
    this.sleeper = b.sleeper;
    this.jitter = b.jitter;
    this.requestTimeout = b.requestTimeout;
    this.http = b.httpClient != null
        ? b.httpClient
        : HttpClient.newBuilder()
            // HTTP/1.1: no h2c upgrade dance on plain http (the local server); the deployed API serves it too.
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(b.connectTimeout)
            .build();
  }

  /** A builder; {@link Builder#baseUri} and an API key or AWS credentials are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** {@code GET models}: the models this environment serves. */
  public ModelList listModels() {
    return call("GET", "models", null, ModelList.class);
  }

  /** {@code POST models/{model}/generate}: text from a prompt. */
  public GenerateResponse generate(String model, GenerateRequest request) {
    return call("POST", route(model, "generate"), Objects.requireNonNull(request, "request"), GenerateResponse.class);
  }

  /**
   * {@code POST models/{model}/generate-stream}: the same request, answered token by token. Returns once the first
   * event has arrived; until then the request is retried as the policy says, after it never.
   *
   * @return the tokens and then the done event; close it (try-with-resources) to release the connection early
   */
  public TokenStream generateStream(String model, GenerateRequest request) {
    return stream(route(model, "generate-stream"), Objects.requireNonNull(request, "request"));
  }

  /**
   * {@code POST models/{model}/generate-stream}, handing each token to {@code onToken} as it arrives.
   *
   * @return the done event
   * @throws StreamException for an error event after the first token, with the tokens handed out before it
   */
  public StreamDone generateStream(String model, GenerateRequest request, Consumer<String> onToken) {
    Objects.requireNonNull(onToken, "onToken");
    try (TokenStream stream = generateStream(model, request)) {
      for (String token : stream) onToken.accept(token);
      return stream.done();
    }
  }

  /** {@code POST models/{model}/classify}: the one of {@code labels} the model answers. */
  public ClassifyResponse classify(String model, ClassifyRequest request) {
    return call("POST", route(model, "classify"), Objects.requireNonNull(request, "request"), ClassifyResponse.class);
  }

  /** {@code POST models/{model}/summarize}: a summary of the document. */
  public SummarizeResponse summarize(String model, SummarizeRequest request) {
    return call("POST", route(model, "summarize"), Objects.requireNonNull(request, "request"), SummarizeResponse.class);
  }

  /** {@code POST models/{model}/answer}: the answer to a question about a context. */
  public AnswerResponse answer(String model, AnswerRequest request) {
    return call("POST", route(model, "answer"), Objects.requireNonNull(request, "request"), AnswerResponse.class);
  }

  // ------------------------------------------------------------------------------------------ requests

  static String route(String model, String operation) {
    Objects.requireNonNull(model, "model");
    // A path segment: URLEncoder is for forms, so its '+' for a space becomes %20.
    return "models/" + URLEncoder.encode(model, StandardCharsets.UTF_8).replace("+", "%20") + "/" + operation;
  }

  /**
   * One operation with retries; {@code body} is a generated request model or any JSON value (a {@link JsonNode},
   * a map), so the vector tests can also send bodies the models cannot express.
   */
  <T> T call(String method, String path, Object body, Class<T> type) {
    byte[] bytes = body == null ? null : json(body);
    URI uri = baseUri.resolve(path);
    return withRetries(() -> {
      HttpResponse<InputStream> response = send(request(method, uri, bytes, JSON + ", " + PROBLEM_JSON), HttpResponse.BodyHandlers.ofInputStream());
      byte[] answer = readBody(response);
      if (response.statusCode() / 100 != 2) throw apiException(response.statusCode(), response.headers(), answer);
      try {
        return MAPPER.readValue(answer, type);
      } catch (IOException malformed) {
        throw new TransportException("The " + response.statusCode() + " answer is not the JSON the API documents: " + malformed.getMessage(), malformed, false, List.of());
      }
    });
  }

  /**
   * The whole body. It breaking off is not retried: the status line came, so the server may have done the work
   * (only a connection that fails before any answer is).
   */
  private static byte[] readBody(HttpResponse<InputStream> response) {
    try (InputStream in = response.body()) {
      return in.readAllBytes();
    } catch (IOException broken) {
      throw new TransportException("The " + response.statusCode() + " answer broke off: " + broken, broken, false, List.of());
    }
  }

  /** A stream with retries until its first event. */
  TokenStream stream(String path, Object body) {
    byte[] bytes = json(body);
    URI uri = baseUri.resolve(path);
    return withRetries(() -> {
      HttpResponse<InputStream> response = send(request("POST", uri, bytes, EVENT_STREAM + ", " + PROBLEM_JSON), HttpResponse.BodyHandlers.ofInputStream());
      if (response.statusCode() / 100 != 2) throw apiException(response.statusCode(), response.headers(), readBody(response));
      String contentType = response.headers().firstValue("content-type").orElse("");
      ServerSentEvents events = new ServerSentEvents(response.body());
      if (!contentType.toLowerCase().startsWith(EVENT_STREAM)) {
        closeQuietly(events);
        throw new TransportException("The " + response.statusCode() + " answer is " + contentType + ", not " + EVENT_STREAM, null, false, List.of());
      }
      ServerSentEvents.Event first;
      try {
        first = events.next();
      } catch (IOException broken) {
        closeQuietly(events);
        throw new TransportException("The stream broke before its first event: " + broken, broken, true, List.of());
      }
      if (first == null) {
        closeQuietly(events);
        throw new TransportException("The stream ended before its first event", null, true, List.of());
      }
      return new TokenStream(events, first, MAPPER);
    });
  }

  private static byte[] json(Object body) {
    try {
      return MAPPER.writeValueAsBytes(body);
    } catch (JsonProcessingException notJson) {
      throw new IllegalArgumentException("The request cannot be written as JSON: " + notJson.getOriginalMessage(), notJson);
    }
  }

  /** One attempt's request; signed afresh each time, since a signature holds its time. */
  private HttpRequest request(String method, URI uri, byte[] body, String accept) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Accept", accept);
    if (body != null) headers.put("Content-Type", JSON);
    if (apiKey != null) headers.put("x-api-key", apiKey);
    HttpRequest.Builder request = HttpRequest.newBuilder(uri)
        .timeout(requestTimeout)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    if (sigV4 == null) {
      headers.forEach(request::header);
    } else {
      sigV4.sign(method, uri, headers, body).forEach((name, values) -> {
        if (!name.equalsIgnoreCase("host")) values.forEach(value -> request.header(name, value));
      });
    }
    return request.header("User-Agent", USER_AGENT).build();
  }

  private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    try {
      return http.send(request, handler);
    } catch (IOException failed) {
      throw new TransportException("No answer from " + request.uri() + ": " + failed, failed, true, List.of());
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      throw new TransportException("Interrupted while waiting for " + request.uri(), interrupted, false, List.of());
    }
  }

  /** The error of a non-2xx answer: its problem document, or a non-problem error (a proxy's page). */
  private static ApiException apiException(int status, HttpHeaders headers, byte[] body) {
    String text = new String(body == null ? new byte[0] : body, StandardCharsets.UTF_8);
    return new ApiException(status, parseProblem(headers, text).orElse(null), text, headers);
  }

  /** The body as a problem document: JSON (problem+json or plain) with a string {@code type}. */
  static Optional<Problem> parseProblem(HttpHeaders headers, String body) {
    String contentType = headers.firstValue("content-type").orElse("").toLowerCase();
    if (!contentType.contains("json")) return Optional.empty();
    try {
      JsonNode node = MAPPER.readTree(body);
      if (node == null || !node.isObject() || !node.path("type").isTextual()) return Optional.empty();
      return Optional.of(MAPPER.treeToValue(node, Problem.class));
    } catch (IOException notAProblem) {
      return Optional.empty();
    }
  }

  private static void closeQuietly(ServerSentEvents events) {
    try {
      events.close();
    } catch (IOException ignored) {
      // the connection is dropped either way
    }
  }

  // ------------------------------------------------------------------------------------------ retries

  /** Runs {@code attempt} until it succeeds or the policy stops retrying, waiting in between. */
  private <T> T withRetries(Supplier<T> attempt) {
    for (int attemptsMade = 1; ; attemptsMade++) {
      InferenceException failure;
      try {
        return attempt.get();
      } catch (InferenceException e) {
        failure = e;
      }
      Optional<Duration> wait = failure.isRetryable()
          ? retryPolicy.delayBeforeRetry(attemptsMade, retryAfter(failure), jitterFactor())
          : Optional.empty();
      if (wait.isEmpty()) throw failure;
      try {
        sleeper.sleep(wait.get());
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        failure.addSuppressed(interrupted);
        throw failure;
      }
    }
  }

  private Duration retryAfter(InferenceException failure) {
    if (!(failure instanceof ApiException api)) return Duration.ZERO;
    return RetryPolicy.retryAfter(api.retryAfterHeader().orElse(null), api.retryAfterSeconds(), clock.instant());
  }

  private double jitterFactor() {
    double factor = jitter.getAsDouble();
    if (!(factor >= 0 && factor <= 1)) throw new IllegalStateException("The jitter supplier must give a factor in [0, 1], gave " + factor);
    return factor;
  }

  // ------------------------------------------------------------------------------------------ builder

  /** Builds an {@link InferenceClient}. */
  public static final class Builder {
    private URI baseUri;
    private String apiKey;
    private Supplier<? extends AwsCredentialsIdentity> credentials;
    private String region;
    private RetryPolicy retryPolicy = RetryPolicy.DEFAULT;
    private Sleeper sleeper = Sleeper.SYSTEM;
    private DoubleSupplier jitter = () -> ThreadLocalRandom.current().nextDouble();
    private Clock clock = Clock.systemUTC();
    private HttpClient httpClient;
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(60);

    private Builder() {}

    /** The stage's URL, the stack output {@code ApiUrl}: {@code https://<api id>.execute-api.<region>.amazonaws.com/v1/}. Required. */
    public Builder baseUri(URI baseUri) {
      this.baseUri = baseUri;
      return this;
    }

    /** {@link #baseUri(URI)} from a string. */
    public Builder baseUri(String baseUri) {
      return baseUri(URI.create(baseUri));
    }

    /** The API key of a usage plan, sent as {@code x-api-key}. @default none */
    public Builder apiKey(String apiKey) {
      this.apiKey = apiKey;
      return this;
    }

    /**
     * Signs every request with SigV4 (service {@code execute-api}) with these credentials; needs {@link #region}.
     * Exclusive with {@link #awsCredentialsProvider}. @default no signature
     */
    public Builder awsCredentials(AwsCredentialsIdentity credentials) {
      Objects.requireNonNull(credentials, "credentials");
      this.credentials = () -> credentials;
      return this;
    }

    /**
     * Signs every request with SigV4 with the credentials the provider gives at that time, e.g. the SDK's
     * {@code DefaultCredentialsProvider.create()} (module {@code software.amazon.awssdk:auth}); needs
     * {@link #region}. Exclusive with {@link #awsCredentials}. @default no signature
     */
    public Builder awsCredentialsProvider(IdentityProvider<? extends AwsCredentialsIdentity> provider) {
      Objects.requireNonNull(provider, "provider");
      this.credentials = () -> {
        try {
          return provider.resolveIdentity().join();
        } catch (CompletionException failed) {
          if (failed.getCause() instanceof RuntimeException cause) throw cause;
          throw failed;
        }
      };
      return this;
    }

    /** The API's region, which a SigV4 signature names. Required with AWS credentials. */
    public Builder region(String region) {
      this.region = region;
      return this;
    }

    /** When to retry. @default {@link RetryPolicy#DEFAULT} */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    /** How to wait between attempts; tests record the waits instead. @default {@link Sleeper#SYSTEM} */
    public Builder sleeper(Sleeper sleeper) {
      this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
      return this;
    }

    /**
     * The jitter factor of each backoff, in [0, 1]; {@code () -> 1.0} turns jitter off.
     * @default full jitter: uniform in [0, 1)
     */
    public Builder jitter(DoubleSupplier jitter) {
      this.jitter = Objects.requireNonNull(jitter, "jitter");
      return this;
    }

    /** The clock that SigV4 signatures and {@code Retry-After} dates are read against. @default the system clock */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The HTTP client. @default a new HTTP/1.1 client with {@link #connectTimeout} */
    public Builder httpClient(HttpClient httpClient) {
      this.httpClient = Objects.requireNonNull(httpClient, "httpClient");
      return this;
    }

    /** The connect timeout of the default HTTP client. @default 10 seconds */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
      return this;
    }

    /**
     * How long one attempt waits for the answer's headers (a stream's tokens may take longer). The API's buffered
     * routes answer within 29 seconds. @default 60 seconds
     */
    public Builder requestTimeout(Duration requestTimeout) {
      this.requestTimeout = Objects.requireNonNull(requestTimeout, "requestTimeout");
      return this;
    }

    /** The client; throws {@link IllegalStateException} naming every missing or conflicting setting. */
    public InferenceClient build() {
      List<String> problems = new ArrayList<>();
      if (baseUri == null) {
        problems.add("baseUri is required");
      } else if (!baseUri.isAbsolute() || !List.of("http", "https").contains(baseUri.getScheme().toLowerCase())) {
        problems.add("baseUri must be an absolute http or https URI, got " + baseUri);
      }
      if (apiKey == null && credentials == null) problems.add("an apiKey or AWS credentials are required");
      if (apiKey != null && apiKey.isBlank()) problems.add("apiKey must not be blank");
      if (credentials != null && (region == null || region.isBlank())) problems.add("region is required with AWS credentials");
      if (credentials == null && region != null) problems.add("region is only used with AWS credentials");
      if (connectTimeout.isNegative() || connectTimeout.isZero()) problems.add("connectTimeout must be positive");
      if (requestTimeout.isNegative() || requestTimeout.isZero()) problems.add("requestTimeout must be positive");
      if (!problems.isEmpty()) throw new IllegalStateException("Invalid InferenceClient settings:\n- " + String.join("\n- ", problems));
      return new InferenceClient(this);
    }
  }
}
