/*
 * JavaFn: a Java custom runtime whose memory behaviour is known, for the leak verdict.
 *
 * Every invocation makes garbage_bytes of short-lived objects (strings and small arrays dropped
 * before the answer), keeps the last `keep` invocations' results (medium-lived objects, each
 * result_bytes: they survive young collections and are promoted, so the old generation fills
 * with dead results between full collections, as a real service's sessions or buffers do), and
 * retains `bytes` for good on every `every`-th invocation (the leak; 0: none).
 *
 * What the JVM does with that is the point: its resident memory rises while the collector
 * touches more of the heap, up to a ceiling set by -Xmx (or Lambda's -XX:MaxHeapSize), then
 * stays flat. A leak keeps growing until the heap is full and the handler throws
 * OutOfMemoryError, which this runtime reports as an error of type java.lang.OutOfMemoryError
 * (as Lambda's Java runtime does) and then exits: the environment is dead.
 *
 * Speaks the Lambda Runtime API (2018-06-01) with the standard library only
 * (HttpURLConnection). Knobs come from the event payload (a flat JSON object of integers), with
 * defaults from the environment: bytes (JAVAFN_BYTES, 0), every (JAVAFN_EVERY, 1),
 * garbage_bytes (JAVAFN_GARBAGE_BYTES, 4 MiB), keep (JAVAFN_KEEP, 0), result_bytes
 * (JAVAFN_RESULT_BYTES, 1 MiB), delay_ms (DELAY_MS, 0).
 */
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class JavaFn {
    private static final long MAX_BYTES = 1L << 40;
    private static final List<long[]> RETAINED = new ArrayList<>();
    private static final ArrayDeque<Object> RECENT = new ArrayDeque<>();
    private static long retainedBytes;
    private static long invocation;
    private static String base;

    private static final class Response {
        int status;
        String requestId;
        byte[] body;
    }

    private static Response request(String method, String path, String body) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(base + path).toURL().openConnection();
        c.setRequestMethod(method);
        c.setConnectTimeout(5000);
        c.setReadTimeout(0); /* next is a long poll */
        if (body != null) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            c.setDoOutput(true);
            c.setRequestProperty("Content-Type", "application/json");
            c.setFixedLengthStreamingMode(b.length);
            try (OutputStream os = c.getOutputStream()) {
                os.write(b);
            }
        }
        Response r = new Response();
        r.status = c.getResponseCode();
        r.requestId = c.getHeaderField("Lambda-Runtime-Aws-Request-Id");
        InputStream in = r.status < 400 ? c.getInputStream() : c.getErrorStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (in != null) {
            try (InputStream is = in) {
                byte[] buf = new byte[8192];
                int n;
                while ((n = is.read(buf)) > 0)
                    out.write(buf, 0, n);
            }
        }
        r.body = out.toByteArray();
        c.disconnect();
        return r;
    }

    private static String error(String type, String message) {
        return "{\"errorMessage\":\"" + message.replace("\\", "\\\\").replace("\"", "\\\"")
                + "\",\"errorType\":\"" + type + "\",\"stackTrace\":[]}";
    }

    private static long envLong(String name, long def, long max) {
        String v = System.getenv(name);
        if (v == null || v.isEmpty())
            return def;
        if (!v.matches("[0-9]{1,15}") || Long.parseLong(v) > max)
            throw new IllegalArgumentException("environment variable " + name
                    + " is not an integer in [0, " + max + "]");
        return Long.parseLong(v);
    }

    /* The members of a flat JSON object whose values are integers, true, false or null. */
    private static final Pattern MEMBER =
            Pattern.compile("\"([A-Za-z_]+)\"\\s*:\\s*(-?[0-9]+|true|false|null)");

    private static Map<String, Long> knobs(String text, Map<String, Long> defaults,
                                           Map<String, Long> maxima) {
        Map<String, Long> k = new HashMap<>(defaults);
        Matcher m = MEMBER.matcher(text);
        while (m.find()) {
            String key = m.group(1);
            if (!defaults.containsKey(key) || m.group(2).equals("null"))
                continue;
            String v = m.group(2);
            long n = v.equals("true") ? 1 : v.equals("false") ? 0 : Long.parseLong(v);
            if (n < 0 || n > maxima.get(key))
                throw new IllegalArgumentException("\"" + key + "\" must be an integer in [0, "
                        + maxima.get(key) + "]");
            k.put(key, n);
        }
        if (k.get("every") < 1)
            throw new IllegalArgumentException("\"every\" must be at least 1");
        return k;
    }

    /* Short-lived objects, about `bytes` of them, dropped on return. */
    private static long garbage(long bytes) {
        List<Object> junk = new ArrayList<>();
        long made = 0;
        long sum = 0;
        int i = 0;
        while (made < bytes) {
            String s = "request-" + invocation + "-" + i + "-" + "x".repeat(200);
            int[] tags = {i, i + 1, i + 2};
            junk.add(s);
            junk.add(tags);
            made += 2L * s.length() + 96;
            i++;
        }
        for (Object o : junk)
            if (o instanceof int[])
                sum += ((int[]) o)[1];
        return sum;
    }

    public static void main(String[] args) throws Exception {
        String api = System.getenv("AWS_LAMBDA_RUNTIME_API");
        if (api == null || api.isEmpty()) {
            System.err.println("[javafn] AWS_LAMBDA_RUNTIME_API is not set");
            System.exit(1);
        }
        base = "http://" + api + "/2018-06-01/runtime";
        Map<String, Long> defaults = new HashMap<>();
        Map<String, Long> maxima = new HashMap<>();
        try {
            defaults.put("bytes", envLong("JAVAFN_BYTES", 0, MAX_BYTES));
            defaults.put("every", envLong("JAVAFN_EVERY", 1, 1 << 20));
            defaults.put("garbage_bytes", envLong("JAVAFN_GARBAGE_BYTES", 4 << 20, MAX_BYTES));
            defaults.put("keep", envLong("JAVAFN_KEEP", 0, 4096));
            defaults.put("result_bytes", envLong("JAVAFN_RESULT_BYTES", 1 << 20, MAX_BYTES));
            defaults.put("delay_ms", envLong("DELAY_MS", 0, 900000));
        } catch (IllegalArgumentException e) {
            request("POST", "/init/error", error("Runtime.InvalidConfiguration", e.getMessage()));
            System.exit(1);
        }
        maxima.put("bytes", MAX_BYTES);
        maxima.put("every", 1L << 20);
        maxima.put("garbage_bytes", MAX_BYTES);
        maxima.put("keep", 4096L);
        maxima.put("result_bytes", MAX_BYTES);
        maxima.put("delay_ms", 900000L);
        for (;;) {
            Response next = request("GET", "/invocation/next", null);
            if (next.status != 200 || next.requestId == null) {
                System.err.println("[javafn] invocation/next answered " + next.status);
                System.exit(1);
            }
            invocation++;
            String path = "/invocation/" + next.requestId;
            Map<String, Long> k;
            try {
                k = knobs(new String(next.body, StandardCharsets.UTF_8), defaults, maxima);
            } catch (IllegalArgumentException e) {
                request("POST", path + "/error", error("InvalidEvent", e.getMessage()));
                continue;
            }
            if (k.get("delay_ms") > 0)
                Thread.sleep(k.get("delay_ms"));
            long allocated = 0;
            try {
                garbage(k.get("garbage_bytes"));
                if (k.get("keep") > 0) {
                    RECENT.addLast(new long[(int) Math.max(1, k.get("result_bytes") / 8)]);
                    while (RECENT.size() > k.get("keep"))
                        RECENT.removeFirst();
                } else {
                    RECENT.clear();
                }
                if (k.get("bytes") > 0 && invocation % k.get("every") == 0) {
                    long[] a = new long[(int) Math.max(1, k.get("bytes") / 8)];
                    java.util.Arrays.fill(a, invocation);
                    RETAINED.add(a);
                    retainedBytes += 8L * a.length;
                    allocated = 8L * a.length;
                }
            } catch (OutOfMemoryError e) {
                RETAINED.clear();
                request("POST", path + "/error", error("java.lang.OutOfMemoryError",
                        "Java heap space"));
                System.err.println("[javafn] java.lang.OutOfMemoryError: Java heap space");
                System.exit(1);
            }
            String body = "{\"function\":\"javafn\",\"invocation\":" + invocation
                    + ",\"request_id\":\"" + next.requestId + "\",\"allocated_bytes\":"
                    + allocated + ",\"freed_bytes\":0,\"retained_bytes\":" + retainedBytes
                    + ",\"garbage_bytes\":" + k.get("garbage_bytes") + ",\"pid\":"
                    + ProcessHandle.current().pid() + "}";
            Response r = request("POST", path + "/response", body);
            if (r.status != 202)
                System.err.println("[javafn] POST response answered " + r.status);
        }
    }
}
