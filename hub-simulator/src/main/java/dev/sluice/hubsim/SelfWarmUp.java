package dev.sluice.hubsim;

import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The simulator's warm-up of its own request path at start, never counted. */
final class SelfWarmUp {
    private static final Logger log = LoggerFactory.getLogger(SelfWarmUp.class);
    /** Where the simulator sends its own warm-up requests at start; not served afterwards. */
    static final String WARM_UP_PREFIX = "/__warm-up__/";
    private static final int WARM_UP_PARALLEL = 8;

    private SelfWarmUp() {
    }

    /**
     * Sends {@link HubSimulator.Builder#warmUpRequests} requests through the server's request path before anyone else can: the
     * same server and handler code, on a context of its own ({@value #WARM_UP_PREFIX}, no latency, no limits, its own
     * monitor, removed afterwards), so nothing of it shows in the stats. A cold JVM would otherwise record its first
     * arrivals late, when its request parsing and handler code first load, and so see them bunched into one second:
     * a measuring instrument must not report an overrun of its own making. A failure is logged, not thrown.
     */
    static void run(HttpServer created, int port, int warmUpRequests) {
        if (warmUpRequests == 0) {
            return;
        }
        long began = System.nanoTime();
        var handler = new HubHandler(WARM_UP_PREFIX, new TrafficMonitor(HubStats.Limits.NONE, System::nanoTime),
                () -> Behaviour.DEFAULT, () -> Outage.NONE, new FailFirstCounter(), () -> 0);
        HttpContext context;
        try {
            context = created.createContext(WARM_UP_PREFIX, handler);
        } catch (IllegalArgumentException e) {
            log.warn("Hub simulator could not warm its request path: {}", e.getMessage());
            return;
        }
        var bound = created.getAddress().getAddress();
        var target = bound.isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : bound;
        var base = "http://" + (target instanceof Inet6Address ? "[" + target.getHostAddress() + "]" : target.getHostAddress())
                + ":" + port + WARM_UP_PREFIX;
        var next = new AtomicInteger();
        try (var client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
             var senders = Executors.newVirtualThreadPerTaskExecutor()) {
            var running = new ArrayList<Future<?>>();
            for (int t = 0; t < WARM_UP_PARALLEL; t++) {
                running.add(senders.submit(() -> {
                    for (int i = next.getAndIncrement(); i < warmUpRequests; i = next.getAndIncrement()) {
                        client.send(HttpRequest.newBuilder(URI.create(base + "k" + i)).timeout(Duration.ofSeconds(5)).build(),
                                HttpResponse.BodyHandlers.ofByteArray());
                    }
                    return null;
                }));
            }
            for (var f : running) {
                f.get(30, TimeUnit.SECONDS);
            }
            log.info("Hub simulator warmed its request path: {} requests over loopback in {} ms (not counted)",
                    warmUpRequests, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
        } catch (Exception e) {
            log.warn("Hub simulator could not warm its request path (its first arrivals may be recorded late): {}", e.toString());
        } finally {
            created.removeContext(context);
        }
    }
}
