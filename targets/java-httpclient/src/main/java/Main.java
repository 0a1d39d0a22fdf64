// hopcheck's driver for the JDK's HTTP client (java.net.http.HttpClient): one
// persistent process that answers plan after plan, each step sent the way the
// package documentation shows
// (https://docs.oracle.com/en/java/javase/17/docs/api/java.net.http/java/net/http/HttpClient.html):
// HttpClient.newBuilder() with followRedirects(HttpClient.Redirect.NORMAL),
// proxy(ProxySelector.of(...)) and sslContext(...), HttpRequest.newBuilder(uri),
// then client.sendAsync(request, BodyHandlers.ofByteArray()).
//
// Protocol: one JSON plan per line on stdin, one JSON answer per line on
// stdout (see harness/src/targets/driver/; bodies in base64). Each answer
// echoes the plan's `id`.
//
// Each plan gets fresh HttpClients (no connections, cookies or TLS sessions
// carried from one plan to the next; the client keeps no HSTS state and has no
// cookie handler unless one is set). Requests go through the harness's
// listener as their proxy and trust only the run's test CA. The client's
// deadline is a little below the plan's `timeout_ms`.
//
// A step's `error` is the client's own error (an exception from the request
// builder or from the exchange): the case judges it. A fault of this driver (a
// plan it cannot read, a CA file it cannot load, the deadline spent) is a
// `driver_error`, which makes the case `error`, never the client's `fail`.
// Each request is logged to stderr.

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import hopcheck.common.PlanFault;
import hopcheck.common.PlanLines;
import hopcheck.common.PlanTrust;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

public final class Main {
    /** How much earlier than the case's time limit the client's deadline falls. */
    private static final long CLIENT_MARGIN_MS = 500;

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** A fault of this driver: a `driver_error`, never the client's answer. */
    static final class DriverFault extends Exception {
        DriverFault(String message) {
            super(message);
        }
    }

    /** One plan's client state: an HttpClient per (follow, insecure), sharing nothing with other plans. */
    static final class Session {
        private final ProxySelector proxy;
        private final SSLContext trusting;
        private SSLContext insecureContext;
        private final long deadlineNanos;
        private final Map<String, HttpClient> clients = new HashMap<>();

        Session(JsonObject plan) throws DriverFault {
            String proxy = string(plan, "proxy");
            String caFile = string(plan, "ca_file");
            try {
                this.proxy = ProxySelector.of(PlanTrust.proxyAddress(proxy));
                this.trusting = trustingContext(caFile, PlanTrust.trustManager(caFile));
            } catch (PlanFault e) {
                throw new DriverFault(e.getMessage());
            }
            long timeoutMs = plan.has("timeout_ms") ? plan.get("timeout_ms").getAsLong() : 30_000;
            if (timeoutMs <= 0) {
                timeoutMs = 30_000;
            }
            long limitMs = Math.max(timeoutMs - CLIENT_MARGIN_MS, timeoutMs / 2);
            this.deadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limitMs);
        }

        /**
         * The plan's client for these settings, built as a user builds one: the
         * redirect policy, the proxy and the TLS context; everything else the
         * builder's default (HTTP/2 preferred, no cookie handler, no authenticator).
         */
        HttpClient client(boolean follow, boolean insecure) throws DriverFault {
            String key = follow + "/" + insecure;
            HttpClient c = clients.get(key);
            if (c == null) {
                c = HttpClient.newBuilder()
                        .followRedirects(follow ? HttpClient.Redirect.NORMAL : HttpClient.Redirect.NEVER)
                        .proxy(proxy)
                        .sslContext(insecure ? insecureContext() : trusting)
                        .build();
                clients.put(key, c);
            }
            return c;
        }

        private SSLContext insecureContext() throws DriverFault {
            if (insecureContext == null) {
                insecureContext = trustAllContext();
            }
            return insecureContext;
        }

        long remainingNanos() {
            return deadlineNanos - System.nanoTime();
        }
    }

    /** An SSLContext trusting the certificates of the plan's CA file only. */
    private static SSLContext trustingContext(String caFile, X509TrustManager trust) throws DriverFault {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {trust}, null);
            return context;
        } catch (java.security.GeneralSecurityException e) {
            throw new DriverFault("cannot load the CA file " + caFile + ": " + e);
        }
    }

    /**
     * An SSLContext whose trust manager accepts every chain and, being an
     * X509ExtendedTrustManager, also skips the host name check (which JSSE does
     * inside the trust manager): the JDK's way to switch verification off.
     */
    private static SSLContext trustAllContext() throws DriverFault {
        TrustManager trustAll = new X509ExtendedTrustManager() {
            @Override public void checkClientTrusted(X509Certificate[] chain, String authType) {}
            @Override public void checkServerTrusted(X509Certificate[] chain, String authType) {}
            @Override public void checkClientTrusted(X509Certificate[] chain, String authType, Socket s) {}
            @Override public void checkServerTrusted(X509Certificate[] chain, String authType, Socket s) {}
            @Override public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine e) {}
            @Override public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine e) {}
            @Override public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        };
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {trustAll}, null);
            return context;
        } catch (java.security.GeneralSecurityException e) {
            throw new DriverFault("cannot make an SSLContext: " + e);
        }
    }

    private static String string(JsonObject o, String name) throws DriverFault {
        JsonElement e = o.get(name);
        if (e == null || !e.isJsonPrimitive()) {
            throw new DriverFault("the plan has no string `" + name + "`");
        }
        return e.getAsString();
    }

    /** The step's request as a user builds it, or the client's refusal (IllegalArgumentException). */
    private static HttpRequest request(JsonObject step) throws DriverFault {
        String method = string(step, "method");
        String url = string(step, "url");
        byte[] body;
        try {
            body = step.has("body") && !step.get("body").isJsonNull()
                    ? Base64.getDecoder().decode(step.get("body").getAsString())
                    : new byte[0];
        } catch (IllegalArgumentException e) {
            // Thrown here it is the plan's fault, not the client's refusal.
            throw new DriverFault("the step's body is not base64: " + e.getMessage());
        }
        boolean streamed = step.has("streamed") && step.get("streamed").getAsBoolean();
        HttpRequest.BodyPublisher publisher;
        if (streamed) {
            // A body read from a stream the user has once: the supplier hands
            // the same stream every time, so a second send gets what is left of
            // it (nothing). The length is unknown to the client (chunked).
            InputStream once = new ByteArrayInputStream(body);
            publisher = HttpRequest.BodyPublishers.ofInputStream(() -> once);
        } else if (body.length > 0) {
            publisher = HttpRequest.BodyPublishers.ofByteArray(body);
        } else {
            publisher = HttpRequest.BodyPublishers.noBody();
        }
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(url));
        // The builder's own method calls where there is one, as users write them.
        boolean bodyless = body.length == 0 && !streamed;
        if (method.equals("GET") && bodyless) {
            builder.GET();
        } else if (method.equals("DELETE") && bodyless) {
            builder.DELETE();
        } else if (method.equals("POST")) {
            builder.POST(publisher);
        } else if (method.equals("PUT")) {
            builder.PUT(publisher);
        } else {
            builder.method(method, publisher);
        }
        JsonArray headers = step.has("headers") ? step.getAsJsonArray("headers") : new JsonArray();
        for (JsonElement h : headers) {
            JsonArray pair = h.getAsJsonArray();
            builder.header(pair.get(0).getAsString(), pair.get(1).getAsString());
        }
        return builder.build();
    }

    private static JsonObject runStep(Session session, JsonObject step) {
        try {
            long delay = step.has("delay_ms") ? step.get("delay_ms").getAsLong() : 0;
            if (delay > 0) {
                Thread.sleep(delay);
            }
            boolean follow = step.has("follow") && step.get("follow").getAsBoolean();
            boolean insecure = step.has("insecure") && step.get("insecure").getAsBoolean();
            HttpRequest request;
            try {
                request = request(step);
            } catch (IllegalArgumentException e) {
                // HttpRequest.Builder or URI.create refuses the URL, method or a
                // header (the JDK's restricted headers among them): the client's answer.
                return clientError(e);
            }
            HttpClient client = session.client(follow, insecure);
            log(request.method() + " " + request.uri() + " (follow=" + follow + " insecure=" + insecure + ")");
            CompletableFuture<HttpResponse<byte[]>> pending =
                    client.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray());
            HttpResponse<byte[]> response;
            try {
                response = pending.get(Math.max(session.remainingNanos(), 0), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                pending.cancel(true);
                return fault("the client was still running at the case's time limit");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                return clientError(cause);
            }
            JsonObject result = new JsonObject();
            result.addProperty("status", response.statusCode());
            result.addProperty("url", response.uri().toString());
            result.add("headers", headerList(response.headers().map()));
            result.addProperty("body", Base64.getEncoder().encodeToString(response.body()));
            return result;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fault("interrupted");
        } catch (DriverFault e) {
            return fault(e.getMessage());
        } catch (RuntimeException e) {
            return fault("driver exception: " + e);
        }
    }

    /**
     * The response's fields: HttpHeaders.map() is sorted by name (case
     * insensitively), so the wire order between names is not observable;
     * values of one name keep their order. Pseudo-headers of HTTP/2 are left out.
     */
    private static JsonArray headerList(Map<String, List<String>> map) {
        JsonArray list = new JsonArray();
        for (Map.Entry<String, List<String>> entry : map.entrySet()) {
            if (entry.getKey().startsWith(":")) {
                continue;
            }
            for (String value : entry.getValue()) {
                JsonArray pair = new JsonArray();
                pair.add(text(entry.getKey()));
                pair.add(text(value));
                list.add(pair);
            }
        }
        return list;
    }

    /**
     * The client reads field bytes as ISO-8859-1 characters; bytes that form
     * UTF-8 are reported as the UTF-8 text, others stay one character per byte,
     * so that no byte is lost or replaced.
     */
    static String text(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) > 0xFF) {
                return s;
            }
        }
        byte[] bytes = s.getBytes(StandardCharsets.ISO_8859_1);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return s;
        }
    }

    private static JsonObject emptyStep() {
        JsonObject o = new JsonObject();
        o.add("headers", new JsonArray());
        o.addProperty("body", "");
        return o;
    }

    private static JsonObject clientError(Throwable e) {
        JsonObject o = emptyStep();
        o.addProperty("error", text(e.toString()));
        return o;
    }

    private static JsonObject fault(String message) {
        JsonObject o = emptyStep();
        o.addProperty("driver_error", message);
        return o;
    }

    private static JsonObject answer(JsonElement id) {
        JsonObject o = new JsonObject();
        o.add("id", id == null ? JsonNull.INSTANCE : id);
        o.add("steps", new JsonArray());
        o.add("unsupported", new JsonArray());
        return o;
    }

    /** One plan line's answer; a line it cannot read gets a top-level `driver_error`. */
    static JsonObject answerLine(String line) {
        JsonObject plan;
        try {
            plan = JsonParser.parseString(line).getAsJsonObject();
        } catch (RuntimeException e) {
            JsonObject reply = answer(null);
            reply.addProperty("driver_error", "cannot read the plan: " + e);
            return reply;
        }
        JsonObject reply = answer(plan.get("id"));
        try {
            Session session = new Session(plan);
            JsonArray steps = reply.getAsJsonArray("steps");
            for (JsonElement step : plan.getAsJsonArray("steps")) {
                steps.add(runStep(session, step.getAsJsonObject()));
            }
        } catch (DriverFault e) {
            reply.addProperty("driver_error", e.getMessage());
        } catch (RuntimeException e) {
            reply = answer(plan.get("id"));
            reply.addProperty("driver_error", "driver exception: " + e);
        }
        return reply;
    }

    private static void log(String message) {
        System.err.println(message);
    }

    public static void main(String[] args) throws IOException {
        if (args.length == 1 && args[0].equals("--version")) {
            // java.net.http ships with the JDK: its version is the runtime's.
            System.out.println("Java " + Runtime.version() + " java.net.http.HttpClient ("
                    + System.getProperty("java.vm.vendor") + ")");
            return;
        }
        PlanLines.answerEach(line -> GSON.toJson(answerLine(line)));
    }
}
