package hopcheck;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import hopcheck.common.PlanFault;
import hopcheck.common.PlanLines;
import hopcheck.common.PlanTrust;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.Headers;
import okhttp3.MediaType;
import okhttp3.OkHttp;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;

/**
 * hopcheck's driver for OkHttp: one persistent process that answers plan after plan, each step
 * sent the way OkHttp's documentation shows (https://square.github.io/okhttp/recipes/): an
 * {@link OkHttpClient} built with its Builder (default followRedirects and followSslRedirects), a
 * {@link Request} built with Request.Builder, then {@code client.newCall(request).execute()}.
 *
 * <p>Protocol: one JSON plan per line on stdin, one JSON answer per line on stdout (bodies in
 * base64); each answer echoes the plan's {@code id}.
 *
 * <p>Each plan gets a fresh OkHttpClient with its own ConnectionPool and Dispatcher (no
 * connections, TLS sessions or cookies carried from one plan to the next; OkHttp keeps no HSTS
 * state), shut down when the plan is answered. Requests go through the harness's listener as
 * their HTTP proxy, and TLS trusts only the run's CA. Each call's timeout ends a little before
 * the plan's {@code timeout_ms}.
 *
 * <p>A step's {@code error} is OkHttp's own refusal or failure (an IOException from the call, an
 * IllegalArgumentException from Request.Builder): the case judges it. A fault of this driver (a
 * plan it cannot read, a CA file it cannot load, the deadline spent) is a {@code driver_error}.
 */
public final class OkHttpDriver {
  /** How much earlier than the case's time limit the client's own deadline falls. */
  private static final long CLIENT_MARGIN_MS = 500;

  /** Methods OkHttp's Request.Builder.method refuses without a body: given an empty one. */
  private static final Set<String> BODY_REQUIRED = Set.of("POST", "PUT", "PATCH", "PROPPATCH", "QUERY", "REPORT");

  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  private OkHttpDriver() {}

  /** Something this driver cannot do or read: a {@code driver_error}, never the client's. */
  static final class DriverFault extends Exception {
    DriverFault(String message, Throwable cause) {
      super(message, cause);
    }
  }

  public static void main(String[] args) throws IOException {
    if (args.length == 1 && args[0].equals("--version")) {
      System.out.println("okhttp " + OkHttp.VERSION + " (Java " + System.getProperty("java.version") + ")");
      return;
    }
    // Java reads no proxy environment variables; these system properties are what a JVM user
    // would set instead, so none may add to the proxy set on each client.
    for (String name : new String[] {"http.proxyHost", "https.proxyHost", "socksProxyHost", "http.nonProxyHosts"}) {
      System.clearProperty(name);
    }
    // Only answers go to stdout (PlanLines writes them there); anything else printed there would
    // break the protocol.
    System.setOut(System.err);
    warmUp();
    PlanLines.answerEach(line -> GSON.toJson(answerLine(line)));
  }

  /**
   * Loads OkHttp's, TLS's and Gson's classes before the first plan arrives, so that the first
   * plan's deadline is not spent on class loading (a second or more on a busy machine). Builds a
   * client and shuts it down; nothing is sent.
   */
  static void warmUp() {
    try {
      SSLContext.getInstance("TLS").init(null, null, null);
      Session session = new Session(new InetSocketAddress("127.0.0.1", 1), new TrustEverything());
      session.client(false);
      session.close();
      new Request.Builder().url("http://warm.test/").build();
      GSON.toJson(JsonParser.parseString("{\"id\":0}"));
    } catch (GeneralSecurityException | DriverFault | RuntimeException e) {
      System.err.println("warm-up failed (plans still run): " + e);
    }
  }

  /** One plan line's answer; a line it cannot read is a top-level driver_error. */
  static JsonObject answerLine(String line) {
    JsonObject plan;
    try {
      plan = JsonParser.parseString(line).getAsJsonObject();
    } catch (RuntimeException e) {
      return planFault(null, "cannot read the plan: " + e);
    }
    JsonElement id = plan.get("id");
    try {
      return handle(plan);
    } catch (DriverFault e) {
      return planFault(id, e.getMessage());
    } catch (RuntimeException | Error e) {
      // A bug of this driver (or of the library), never the client's answer to the case.
      return planFault(id, "driver failure: " + e);
    }
  }

  static JsonObject planFault(JsonElement id, String message) {
    JsonObject answer = emptyAnswer(id);
    answer.addProperty("driver_error", message);
    return answer;
  }

  static JsonObject emptyAnswer(JsonElement id) {
    JsonObject answer = new JsonObject();
    answer.add("id", id);
    answer.add("steps", new JsonArray());
    answer.add("unsupported", new JsonArray());
    return answer;
  }

  static JsonObject handle(JsonObject plan) throws DriverFault {
    JsonObject answer = emptyAnswer(plan.get("id"));
    long timeoutMs = plan.has("timeout_ms") ? plan.get("timeout_ms").getAsLong() : 30_000;
    if (timeoutMs <= 0) {
      timeoutMs = 30_000;
    }
    long limitMs = Math.max(timeoutMs - CLIENT_MARGIN_MS, timeoutMs / 2);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limitMs);
    Session session;
    try {
      session =
          new Session(
              PlanTrust.proxyAddress(plan.get("proxy").getAsString()),
              PlanTrust.trustManager(plan.get("ca_file").getAsString()));
    } catch (PlanFault e) {
      throw new DriverFault(e.getMessage(), e.getCause());
    }
    try {
      JsonArray steps = answer.getAsJsonArray("steps");
      for (JsonElement step : plan.getAsJsonArray("steps")) {
        steps.add(runStep(session, step.getAsJsonObject(), deadline));
      }
    } finally {
      session.close();
    }
    return answer;
  }

  /** A trust manager that accepts every certificate: for steps that ask for an insecure request. */
  static final class TrustEverything implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }

  /**
   * One plan's clients: built lazily, one verifying and one insecure, each with its own
   * ConnectionPool and Dispatcher, shut down at the end of the plan. Steps of one plan share them,
   * as a program reusing its client would.
   */
  static final class Session {
    private final InetSocketAddress proxy;
    private final X509TrustManager trust;
    private OkHttpClient secure;
    private OkHttpClient insecure;

    Session(InetSocketAddress proxy, X509TrustManager trust) {
      this.proxy = proxy;
      this.trust = trust;
    }

    OkHttpClient client(boolean insecureStep) throws DriverFault {
      if (insecureStep) {
        if (insecure == null) {
          insecure = build(new TrustEverything(), true);
        }
        return insecure;
      }
      if (secure == null) {
        secure = build(trust, false);
      }
      return secure;
    }

    private OkHttpClient build(X509TrustManager manager, boolean anyHost) throws DriverFault {
      SSLContext context;
      try {
        context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {manager}, new SecureRandom());
      } catch (GeneralSecurityException e) {
        throw new DriverFault("cannot set up TLS: " + e, e);
      }
      OkHttpClient.Builder builder =
          new OkHttpClient.Builder()
              .connectionPool(new ConnectionPool())
              .proxy(new Proxy(Proxy.Type.HTTP, proxy))
              .sslSocketFactory(context.getSocketFactory(), manager);
      if (anyHost) {
        builder.hostnameVerifier((host, sslSession) -> true);
      }
      return builder.build();
    }

    void close() {
      for (OkHttpClient client : new OkHttpClient[] {secure, insecure}) {
        if (client != null) {
          client.dispatcher().cancelAll();
          client.dispatcher().executorService().shutdown();
          client.connectionPool().evictAll();
        }
      }
    }
  }

  /**
   * A body that OkHttp cannot send twice (isOneShot): what a user streaming from a pipe writes.
   * Its length is known; what makes it streamed is that it cannot be replayed.
   */
  static final class StreamedBody extends RequestBody {
    private final byte[] content;

    StreamedBody(byte[] content) {
      this.content = content;
    }

    @Override
    public MediaType contentType() {
      return null;
    }

    @Override
    public long contentLength() {
      return content.length;
    }

    @Override
    public boolean isOneShot() {
      return true;
    }

    @Override
    public void writeTo(BufferedSink sink) throws IOException {
      sink.write(content);
    }
  }

  /**
   * The step as a user writes it with Request.Builder: the body as bytes (replayable) or, for a
   * streamed step, a one-shot body; no Content-Type of OkHttp's own (the step's headers carry it).
   */
  static Request request(JsonObject step) {
    String method = step.get("method").getAsString();
    byte[] content = Base64.getDecoder().decode(step.has("body") ? step.get("body").getAsString() : "");
    boolean streamed = step.has("streamed") && step.get("streamed").getAsBoolean();
    RequestBody body = null;
    if (streamed) {
      body = new StreamedBody(content);
    } else if (content.length > 0 || BODY_REQUIRED.contains(method)) {
      body = RequestBody.create(content, (MediaType) null);
    }
    Request.Builder builder = new Request.Builder().url(step.get("url").getAsString());
    for (JsonElement header : step.getAsJsonArray("headers")) {
      JsonArray pair = header.getAsJsonArray();
      builder.addHeader(pair.get(0).getAsString(), pair.get(1).getAsString());
    }
    return builder.method(method, body).build();
  }

  static JsonObject runStep(Session session, JsonObject step, long deadline) throws DriverFault {
    long delayMs = step.has("delay_ms") ? step.get("delay_ms").getAsLong() : 0;
    if (delayMs > 0) {
      try {
        Thread.sleep(delayMs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return stepFault("interrupted while waiting before the step");
      }
    }
    Request request;
    try {
      request = request(step);
    } catch (IllegalArgumentException e) {
      // OkHttp refuses the method, URL, header or body: its own answer.
      return clientError(e);
    }
    boolean follow = step.get("follow").getAsBoolean();
    boolean insecureStep = step.has("insecure") && step.get("insecure").getAsBoolean();
    OkHttpClient client = session.client(insecureStep);
    if (!follow) {
      // The documented way to see a redirect response itself: a client derived with newBuilder
      // (sharing the plan's pool) that follows none.
      client = client.newBuilder().followRedirects(false).followSslRedirects(false).build();
    }
    System.err.printf("%s %s (follow=%b insecure=%b)%n", request.method(), request.url(), follow, insecureStep);
    long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
    if (remainingMs <= 0) {
      return stepFault("the case's time limit was spent before the step");
    }
    Call call = client.newCall(request);
    call.timeout().timeout(remainingMs, TimeUnit.MILLISECONDS);
    try (Response response = call.execute()) {
      byte[] content = response.body().bytes();
      JsonObject result = new JsonObject();
      result.addProperty("status", response.code());
      result.addProperty("url", response.request().url().toString());
      result.add("headers", headerList(response.headers()));
      result.addProperty("body", Base64.getEncoder().encodeToString(content));
      return result;
    } catch (IOException | IllegalArgumentException | IllegalStateException e) {
      if (System.nanoTime() - deadline >= 0) {
        return stepFault("the client was still running at the case's time limit: " + e);
      }
      return clientError(e);
    }
  }

  /** The response's fields in the order OkHttp keeps them (the order read). */
  static JsonArray headerList(Headers headers) {
    JsonArray list = new JsonArray();
    for (int i = 0; i < headers.size(); i++) {
      JsonArray pair = new JsonArray();
      pair.add(headers.name(i));
      pair.add(headers.value(i));
      list.add(pair);
    }
    return list;
  }

  static JsonObject clientError(Throwable e) {
    JsonObject result = emptyStep();
    StringBuilder message = new StringBuilder(e.toString());
    for (Throwable cause = e.getCause(); cause != null && cause != e; cause = cause.getCause()) {
      message.append(" (caused by ").append(cause).append(')');
    }
    result.addProperty("error", message.toString());
    return result;
  }

  static JsonObject stepFault(String message) {
    JsonObject result = emptyStep();
    result.addProperty("driver_error", message);
    return result;
  }

  static JsonObject emptyStep() {
    JsonObject result = new JsonObject();
    result.add("headers", new JsonArray());
    result.addProperty("body", "");
    return result;
  }
}
