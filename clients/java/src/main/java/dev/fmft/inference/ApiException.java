package dev.fmft.inference;

import dev.fmft.inference.model.FieldError;
import dev.fmft.inference.model.Problem;
import java.net.http.HttpHeaders;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The API answered with an error. Usually an RFC 9457 problem document of api/problems.json, whose fields this
 * exception carries: {@link #code()} (from the type {@code urn:fmft:problem:<code>}), {@link #status()},
 * {@link #title()}, {@link #detail()}, {@link #instance()} (the request id), {@link #isRetryable()},
 * {@link #retryAfterSeconds()} and {@link #errors()} (the fields of an {@code invalid-request}).
 *
 * <p>An error answer that is not a problem document (a proxy's page) has no code; its title names the status and
 * its detail holds the start of the body. Of those, a 502, 503 or 504 is retryable.
 */
public class ApiException extends InferenceException {
  private static final long serialVersionUID = 1L;

  /** The prefix of every problem type of this API. */
  public static final String PROBLEM_TYPE_PREFIX = "urn:fmft:problem:";

  private static final int BODY_EXCERPT_CHARS = 500;

  private final int status;
  private final transient Problem problem;
  private final transient HttpHeaders headers;
  private final String nonProblemBody;

  /** An error answer; {@code problem} is null when the body is not a problem document. */
  ApiException(int status, Problem problem, String nonProblemBody, HttpHeaders headers) {
    super(message(status, problem, nonProblemBody), null);
    this.status = status;
    this.problem = problem;
    this.headers = headers == null ? HttpHeaders.of(Map.of(), (name, value) -> true) : headers;
    this.nonProblemBody = problem == null ? excerpt(nonProblemBody) : null;
  }

  private static String message(int status, Problem problem, String body) {
    if (problem == null) return "HTTP " + status + " without a problem document: " + excerpt(body);
    String detail = problem.getDetail() == null ? "" : ": " + problem.getDetail();
    return status + " " + codeOf(problem) + " (" + problem.getTitle() + ")" + detail;
  }

  private static String excerpt(String body) {
    if (body == null) return "";
    return body.length() <= BODY_EXCERPT_CHARS ? body : body.substring(0, BODY_EXCERPT_CHARS) + "...";
  }

  static String codeOf(Problem problem) {
    String type = problem.getType();
    if (type == null) return null;
    return type.startsWith(PROBLEM_TYPE_PREFIX) ? type.substring(PROBLEM_TYPE_PREFIX.length()) : type;
  }

  /** Whether the answer was a problem document; false for a proxy's page or another non-problem error. */
  public boolean isProblem() {
    return problem != null;
  }

  /** The problem document as received, when there was one. */
  public Optional<Problem> problem() {
    return Optional.ofNullable(problem);
  }

  /** The problem's code, e.g. {@code model-throttled} (its type without {@value #PROBLEM_TYPE_PREFIX}); null without a problem. */
  public String code() {
    return problem == null ? null : codeOf(problem);
  }

  /** The HTTP status; for a {@link StreamException}, the status the problem in the error event names. */
  public int status() {
    return status;
  }

  /** The problem's title, or {@code HTTP <status>} without a problem. */
  public String title() {
    return problem == null ? "HTTP " + status : problem.getTitle();
  }

  /** The problem's detail, or the start of the body without a problem. */
  public String detail() {
    return problem == null ? nonProblemBody : problem.getDetail();
  }

  /** The request id (API Gateway's), when the problem names it. */
  public String instance() {
    return problem == null ? null : problem.getInstance();
  }

  /**
   * Whether the same request may succeed later: the problem's {@code retryable}, or, without a problem, whether
   * the status is 502, 503 or 504.
   */
  @Override
  public boolean isRetryable() {
    if (problem != null) return Boolean.TRUE.equals(problem.getRetryable());
    return status == 502 || status == 503 || status == 504;
  }

  /** The problem's {@code retryAfterSeconds}, when it has one. */
  public OptionalInt retryAfterSeconds() {
    return problem == null || problem.getRetryAfterSeconds() == null
        ? OptionalInt.empty()
        : OptionalInt.of(problem.getRetryAfterSeconds());
  }

  /** The fields an {@code invalid-request} names, each a JSON Pointer into the body; empty otherwise. */
  public List<FieldError> errors() {
    return problem == null || problem.getErrors() == null ? List.of() : List.copyOf(problem.getErrors());
  }

  /** The answer's {@code Retry-After} header, when it has one. */
  public Optional<String> retryAfterHeader() {
    return headers.firstValue("retry-after");
  }

  /** The answer's headers (empty for a {@link StreamException}'s event). */
  public HttpHeaders headers() {
    return headers;
  }
}
