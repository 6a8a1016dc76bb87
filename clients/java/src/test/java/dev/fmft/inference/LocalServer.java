package dev.fmft.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The API's local server ({@code node_modules/.bin/tsx api/local-server.ts}, api/vectors/README.md): the real
 * handler behind plain HTTP with scripted models. Started once per test class; it exits when its stdin closes.
 */
public final class LocalServer implements AutoCloseable {

  /** tsx compiles the handler on start; on two busy cores that takes a while. */
  private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Process process;
  private final URI url;
  private final URI control;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private LocalServer(Process process, URI url) {
    this.process = process;
    this.url = url;
    this.control = url.resolve("/__control/");
  }

  /**
   * The repository root: the system property {@code fmft.repoRoot} that the pom sets, else the nearest directory
   * above the working directory that holds api/openapi.json.
   */
  public static Path repoRoot() {
    String configured = System.getProperty("fmft.repoRoot");
    if (configured != null && Files.isRegularFile(Paths.get(configured, "api", "openapi.json"))) {
      return Paths.get(configured).toAbsolutePath().normalize();
    }
    for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("api").resolve("openapi.json"))) return dir;
    }
    throw new IllegalStateException("No api/openapi.json above " + Paths.get("").toAbsolutePath() + " and fmft.repoRoot is " + configured);
  }

  /** Starts the server and waits for its URL line. */
  public static LocalServer start() throws IOException, InterruptedException {
    Path root = repoRoot();
    Path tsx = root.resolve("node_modules").resolve(".bin").resolve("tsx");
    if (!Files.isExecutable(tsx)) {
      throw new IllegalStateException(tsx + " is missing: run `npm ci` in " + root + " first");
    }
    Path log = Paths.get("target", "local-server.log").toAbsolutePath();
    Files.createDirectories(log.getParent());
    Process process = new ProcessBuilder(tsx.toString(), "api/local-server.ts")
        .directory(root.toFile())
        .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .start();
    BufferedReader stdout = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
      try {
        return stdout.readLine();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    try {
      String first = line.get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      if (first == null) throw new IllegalStateException("api/local-server.ts exited with " + process.waitFor() + " before printing its URL; see " + log);
      return new LocalServer(process, URI.create(JSON.readTree(first).get("url").asText()));
    } catch (TimeoutException | ExecutionException | RuntimeException e) {
      process.descendants().forEach(ProcessHandle::destroy);
      process.destroy();
      throw new IllegalStateException("api/local-server.ts printed no URL within " + START_TIMEOUT + "; see " + log, e);
    }
  }

  /** The API's base URL, {@code http://127.0.0.1:<port>/v1/}. */
  public URI url() {
    return url;
  }

  /** Replaces the script with these steps (a JSON array) and clears the recorded requests. */
  public void script(JsonNode steps) throws IOException, InterruptedException {
    String body = JSON.writeValueAsString(Map.of("steps", steps));
    HttpResponse<String> response = http.send(
        HttpRequest.newBuilder(control.resolve("script")).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) throw new IllegalStateException("The server refused the script: " + response.body());
  }

  /** The requests to the API since the last script: {@code [{"method", "path", "headers"}]}. */
  public JsonNode requests() throws IOException, InterruptedException {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(control.resolve("requests")).GET().build(), HttpResponse.BodyHandlers.ofString());
    return JSON.readTree(response.body());
  }

  /** Closes its stdin, which stops it; waits for it to exit. */
  @Override
  public void close() throws IOException {
    process.getOutputStream().close();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        // tsx runs the script in a child node process: stop both.
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      process.descendants().forEach(ProcessHandle::destroy);
      process.destroy();
    }
  }
}
