package dev.sluice.worker.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An empty request body that lets its request go on the wire once.
 *
 * <p>The JDK's HTTP/1.1 client sends a GET a second time on its own when a pooled connection fails before any
 * byte of the answer arrived (it takes the connection for stale), and no {@code jdk.httpclient.*} property turns
 * that off for idempotent methods ({@code jdk.httpclient.disableRetryConnect} only covers failed connects, which
 * never reach the server). The first send may well have reached the Hub, so a second one would go out without a
 * token and a permit of its own. The client asks each attempt for the body's length while it writes the request
 * headers, before any byte of that attempt is written; the second time this body refuses, and the attempt fails
 * before it leaves. A refused connect is still retried: nothing was sent by then.
 *
 * <p>The only trace on the wire is a {@code Content-Length: 0} header on the GET.
 */
final class SingleSendBody implements HttpRequest.BodyPublisher {
    private final AtomicBoolean sent = new AtomicBoolean();

    /** Thrown (wrapped by the client in an IOException) when the client tries to send the request again. */
    static final class ResendRefused extends IOException {
        @java.io.Serial
        private static final long serialVersionUID = 1L;

        ResendRefused() {
            super("the HTTP client tried to send a Hub request again on its own (its connection failed before an answer); "
                    + "refused, since a new send needs a new permit");
        }
    }

    @Override
    public long contentLength() {
        if (!sent.compareAndSet(false, true)) {
            throw new UncheckedIOException(new ResendRefused());
        }
        return 0;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
        HttpRequest.BodyPublishers.noBody().subscribe(subscriber);
    }

    /** Whether {@code failure} is (caused by) a refused re-send. */
    static boolean refusedResend(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ResendRefused) {
                return true;
            }
        }
        return false;
    }
}
