package dev.sluice.worker.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * An empty request body that lets its request go on the wire once, and only while its rate token is good.
 *
 * <p>The JDK's HTTP/1.1 client sends a GET a second time on its own when a pooled connection fails before any
 * byte of the answer arrived (it takes the connection for stale), and no {@code jdk.httpclient.*} property turns
 * that off for idempotent methods ({@code jdk.httpclient.disableRetryConnect} only covers failed connects, which
 * never reach the server). The first send may well have reached the Hub, so a second one would go out without a
 * token and a permit of its own. The client asks each attempt for the body's length while it writes the request
 * headers, before any byte of that attempt is written; the second time this body refuses, and the attempt fails
 * before it leaves. A refused connect is still retried: nothing was sent by then.
 *
 * <p>The same moment, after the connection is made and before the first byte, is the last at which a request can
 * still be held back: if its permit says the token's time is too long past ({@link dev.sluice.worker.limits.HubLimiter.Permit#onTime()}),
 * the attempt fails with {@link TokenMissed} and nothing leaves. A cold node's first connection (class loading, a
 * new TCP connection) or a stalled thread can take longer than the limiter's lateness budget, and a request sent
 * that late could crowd a later second at the Hub.
 *
 * <p>The only trace on the wire is a {@code Content-Length: 0} header on the GET.
 */
final class SingleSendBody implements HttpRequest.BodyPublisher {
    private final AtomicBoolean sent = new AtomicBoolean();
    private final BooleanSupplier onTime;
    private final Runnable onSent;

    /**
     * @param onTime asked right before the request would leave; false holds it back
     * @param onSent told once, when the request leaves
     */
    SingleSendBody(BooleanSupplier onTime, Runnable onSent) {
        this.onTime = onTime;
        this.onSent = onSent;
    }

    /** A body whose request may leave at any time. */
    SingleSendBody() {
        this(() -> true, () -> { });
    }

    /** Thrown (wrapped by the client in an IOException) when the client tries to send the request again. */
    static final class ResendRefused extends IOException {
        @java.io.Serial
        private static final long serialVersionUID = 1L;

        ResendRefused() {
            super("the HTTP client tried to send a Hub request again on its own (its connection failed before an answer); "
                    + "refused, since a new send needs a new permit");
        }
    }

    /** Thrown (wrapped by the client in an IOException) when the request would leave too late for its token. */
    static final class TokenMissed extends IOException {
        @java.io.Serial
        private static final long serialVersionUID = 1L;

        TokenMissed() {
            super("the Hub request would have left too long after its rate token's time (a slow connection or a "
                    + "stalled thread); held back, nothing sent");
        }
    }

    @Override
    public long contentLength() {
        if (sent.get()) {
            throw new UncheckedIOException(new ResendRefused());
        }
        if (!onTime.getAsBoolean()) {
            throw new UncheckedIOException(new TokenMissed());
        }
        if (!sent.compareAndSet(false, true)) {
            throw new UncheckedIOException(new ResendRefused());
        }
        onSent.run();
        return 0;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
        HttpRequest.BodyPublishers.noBody().subscribe(subscriber);
    }

    /** Whether {@code failure} is (caused by) a refused re-send. */
    static boolean refusedResend(Throwable failure) {
        return causedBy(failure, ResendRefused.class);
    }

    /** Whether {@code failure} is (caused by) a request held back for its late token: nothing was sent. */
    static boolean tokenMissed(Throwable failure) {
        return causedBy(failure, TokenMissed.class);
    }

    private static boolean causedBy(Throwable failure, Class<? extends IOException> type) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }
}
