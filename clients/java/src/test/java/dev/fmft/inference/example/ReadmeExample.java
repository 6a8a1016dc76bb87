package dev.fmft.inference.example;

// The README quotes this file from tag::readme[] to end::readme[]; ReadmeExampleTest keeps the two equal and runs
// the example against the local server.
// tag::readme[]
import dev.fmft.inference.ApiException;
import dev.fmft.inference.InferenceClient;
import dev.fmft.inference.StreamException;
import dev.fmft.inference.TokenStream;
import dev.fmft.inference.model.ClassifyRequest;
import dev.fmft.inference.model.ClassifyResponse;
import dev.fmft.inference.model.GenerateRequest;
import dev.fmft.inference.model.GenerateResponse;
import dev.fmft.inference.model.GenerationParameters;
import java.net.URI;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

public final class ReadmeExample {

  /** Calls the API at apiUrl (the stack output ApiUrl) with an API key, then signed with SigV4. */
  public static void run(URI apiUrl, String apiKey, AwsCredentialsIdentity aws, String region) {
    // api.authentication api-key: the key of a usage plan, sent as x-api-key.
    InferenceClient client = InferenceClient.builder()
        .baseUri(apiUrl)
        .apiKey(apiKey)
        .build();

    GenerateResponse response = client.generate("serving", new GenerateRequest()
        .prompt("Summarize: the claim was filed on May 3.")
        .parameters(new GenerationParameters().maxNewTokens(64)));
    System.out.println(response.getText() + " (" + response.getVersion() + ")");

    // Tokens as they arrive; the request is retried only until the first event.
    try (TokenStream stream = client.generateStream("serving", new GenerateRequest().prompt("Say hello"))) {
      for (String token : stream) {
        System.out.print(token);
      }
      System.out.println(" [" + stream.done().getFinishReason() + "]");
    } catch (StreamException e) {
      System.out.println("the stream failed after " + e.tokens() + ": " + e.code());
    }

    // api.authentication iam: SigV4 of service execute-api. For credentials that refresh, pass
    // .awsCredentialsProvider(DefaultCredentialsProvider.create()) (module software.amazon.awssdk:auth).
    InferenceClient signed = InferenceClient.builder()
        .baseUri(apiUrl)
        .awsCredentials(aws)
        .region(region)
        .build();
    try {
      ClassifyResponse label = signed.classify("support-assistant", new ClassifyRequest()
          .text("I was charged twice.")
          .addLabelsItem("billing")
          .addLabelsItem("technical"));
      System.out.println(label.getLabel());
    } catch (ApiException e) {
      // Retryable problems have been retried as the RetryPolicy allows; what is left is the caller's.
      System.out.println(e.code() + " " + e.status() + " retryable=" + e.isRetryable() + ": " + e.detail());
    }
  }
}
// end::readme[]
