package dev.fmft.inference;

import java.net.URI;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

/** Signs each attempt with SigV4 for API Gateway (service {@code execute-api}), by the AWS SDK's own signer. */
final class SigV4 {
  static final String SERVICE = "execute-api";

  private final AwsV4HttpSigner signer = AwsV4HttpSigner.create();
  private final Supplier<? extends AwsCredentialsIdentity> credentials;
  private final String region;
  private final Clock clock;

  SigV4(Supplier<? extends AwsCredentialsIdentity> credentials, String region, Clock clock) {
    this.credentials = credentials;
    this.region = region;
    this.clock = clock;
  }

  /**
   * The headers to send: {@code headers} plus {@code Host}, {@code Authorization}, {@code X-Amz-Date} and, for
   * temporary credentials, {@code X-Amz-Security-Token}. The caller leaves {@code Host} to java.net.http, which
   * refuses to take it and sends the same value from the URI.
   */
  Map<String, List<String>> sign(String method, URI uri, Map<String, String> headers, byte[] body) {
    SdkHttpRequest.Builder request = SdkHttpRequest.builder().uri(uri).method(SdkHttpMethod.fromValue(method));
    headers.forEach(request::putHeader);
    // Resolved per attempt: a provider of temporary credentials refreshes them when they near expiry.
    AwsCredentialsIdentity identity = credentials.get();
    SignedRequest signed = signer.sign(r -> r
        .identity(identity)
        .request(request.build())
        .payload(body == null ? null : ContentStreamProvider.fromByteArrayUnsafe(body))
        .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, SERVICE)
        .putProperty(AwsV4HttpSigner.REGION_NAME, region)
        .putProperty(HttpSigner.SIGNING_CLOCK, clock));
    return signed.request().headers();
  }
}
