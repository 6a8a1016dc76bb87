package dev.fmft.inference.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fmft.inference.LocalServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

/** The README's example is ReadmeExample.java, word for word, and it runs. */
class ReadmeExampleTest {

  private static final Path EXAMPLE = Paths.get("src", "test", "java", "dev", "fmft", "inference", "example", "ReadmeExample.java");
  private static final Path README = Paths.get("README.md");
  private static final ObjectMapper JSON = new ObjectMapper();

  private static LocalServer server;

  @BeforeAll
  static void startServer() throws Exception {
    server = LocalServer.start();
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) server.close();
  }

  /** The lines between {@code // tag::readme[]} and {@code // end::readme[]}. */
  static String exampleRegion() throws Exception {
    List<String> region = new ArrayList<>();
    boolean inside = false;
    for (String line : Files.readAllLines(EXAMPLE)) {
      if (line.trim().equals("// end::readme[]")) return String.join("\n", region) + "\n";
      if (inside) region.add(line);
      if (line.trim().equals("// tag::readme[]")) inside = true;
    }
    throw new AssertionError(EXAMPLE + " has no tag::readme[] ... end::readme[] region");
  }

  @Test
  void theReadmeQuotesTheExampleExactly() throws Exception {
    String readme = Files.readString(README).replace("\r\n", "\n");
    Matcher blocks = Pattern.compile("^```java\\n(.*?)^```$", Pattern.DOTALL | Pattern.MULTILINE).matcher(readme);
    List<String> javaBlocks = new ArrayList<>();
    while (blocks.find()) javaBlocks.add(blocks.group(1));
    assertEquals(1, javaBlocks.size(), "README.md has one java block, the example");
    assertEquals(exampleRegion(), javaBlocks.get(0), "README.md's java block is " + EXAMPLE + "'s readme region; copy it over");
  }

  @Test
  void theExampleRunsAgainstTheLocalServer() throws Exception {
    JsonNode vectors = JSON.readTree(Files.readString(LocalServer.repoRoot().resolve("api/vectors/vectors.json")));
    JsonNode settings = vectors.path("server");
    server.script(JSON.readTree("""
        [
          {"model": {"text": "A claim filed on May 3.", "finishReason": "stop"}},
          {"model": {"tokens": ["Hel", "lo", "!"], "finishReason": "stop"}},
          {"model": {"text": "I cannot tell.", "finishReason": "stop"}}
        ]"""));

    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      ReadmeExample.run(
          server.url(),
          settings.path("apiKey").asText(),
          AwsCredentialsIdentity.create(settings.path("credentials").path("accessKeyId").asText(), settings.path("credentials").path("secretAccessKey").asText()),
          settings.path("region").asText());
    } finally {
      System.setOut(stdout);
    }

    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(3, lines.size(), "three lines: " + lines);
    assertEquals("A claim filed on May 3. (" + settings.path("models").get(0).path("versions").get(0).asText() + ")", lines.get(0));
    assertEquals("Hello! [stop]", lines.get(1));
    assertTrue(lines.get(2).startsWith("unparseable-answer 502 retryable=false: "), lines.get(2));

    JsonNode requests = server.requests();
    assertEquals(3, requests.size(), "one request per call, none retried");
    assertEquals(settings.path("apiKey").asText(), requests.get(0).path("headers").path("x-api-key").asText());
    assertEquals(settings.path("apiKey").asText(), requests.get(1).path("headers").path("x-api-key").asText());
    assertTrue(requests.get(2).path("headers").path("authorization").asText().startsWith("AWS4-HMAC-SHA256 "));
    assertFalse(requests.get(2).path("headers").has("x-api-key"));
  }
}
