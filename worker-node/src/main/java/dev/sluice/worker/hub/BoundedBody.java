package dev.sluice.worker.hub;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.LongAdder;

/**
 * Reads the body of one Hub answer within {@code hub.max_response_bytes} and before a deadline; one per send.
 *
 * <p>A 2xx body with a {@code Content-Length} over the bound is refused before a byte of it is read; one without
 * is counted as it arrives and refused at the first byte past the bound. Either way at most the bound is ever
 * buffered, and the room the answer does not need goes back to the {@link BodyBudget} as soon as its size is
 * known. The body of any other answer is counted and dropped (only its status and headers matter).
 *
 * <p>{@link #expire()} ends the read at the deadline: the JDK client's request timeout stops counting once the
 * headers are in, so without it a Hub trickling a body would hold the connection, and the Hub's count of requests
 * in flight, past the permit's lease. Refusing or expiring cancels the body's subscription, which makes the JDK
 * client close the connection at once (checked on JDK 25: the Hub's next write fails within milliseconds); the send
 * then fails with the reason ({@link #failure()}). Cancelling the future of {@code sendAsync} (or interrupting
 * {@code send}) is not relied on: on JDK 25 the connection it closes is at times only half-closed (FIN) until the
 * client's selector thread next wakes, up to 3 s later on an idle client, and a Hub still writing its answer sees
 * no error until then.
 *
 * <p>The bytes are handed over once ({@link Handover#take()}) and kept nowhere else: the JDK client (25) keeps a
 * pooled connection's first exchange, its response and that response's body, reachable for as long as the
 * connection lives (through the connection's connect timer event), which would pin up to one body per pooled
 * connection outside the budget.
 */
final class BoundedBody implements HttpResponse.BodyHandler<BoundedBody.Handover> {
    private static final byte[] NONE = new byte[0];
    private static final int BLOCK = 64 * 1024;

    private final String key;
    private final int maxBytes;
    private final BodyBudget.Reservation room;
    private final LongAdder bytesRead;
    private final long timeoutMs;
    private volatile Reader reader;
    private volatile boolean expired;

    /**
     * @param room      the answer's room in the budget; shrunk to the answer's size once it is known
     * @param bytesRead counts every body byte received (kept or not)
     * @param timeoutMs the request timeout, for the expiry's message
     */
    BoundedBody(String key, int maxBytes, BodyBudget.Reservation room, LongAdder bytesRead, long timeoutMs) {
        this.key = key;
        this.maxBytes = maxBytes;
        this.room = room;
        this.bytesRead = bytesRead;
        this.timeoutMs = timeoutMs;
    }

    /** An answer's body, to be taken once; what the JDK client's objects keep of it afterwards is empty. */
    static final class Handover {
        private byte[] bytes;

        private Handover(byte[] bytes) {
            this.bytes = bytes;
        }

        /** The body; empty when it was taken before. */
        synchronized byte[] take() {
            byte[] b = bytes;
            bytes = NONE;
            return b;
        }
    }

    /** The answer's body did not fit {@code hub.max_response_bytes}: nothing of it was kept. */
    static final class TooLarge extends IOException {
        @java.io.Serial
        private static final long serialVersionUID = 1L;

        TooLarge(String message) {
            super(message);
        }
    }

    /** The answer was not in full by the deadline: the read was cut and the connection closed. */
    static final class TimedOut extends HttpTimeoutException {
        @java.io.Serial
        private static final long serialVersionUID = 1L;

        TimedOut(String message) {
            super(message);
        }
    }

    @Override
    public HttpResponse.BodySubscriber<Handover> apply(HttpResponse.ResponseInfo info) {
        Reader r;
        if (info.statusCode() < 200 || info.statusCode() >= 300) {
            r = new Reader(-1, false);
        } else {
            long length = contentLength(info);
            if (length > maxBytes) {
                r = new Reader(length, true);
                r.fail(new TooLarge("Hub answer for " + key + " is larger than hub.max_response_bytes (" + maxBytes
                        + "): Content-Length " + length));
            } else {
                if (length >= 0) {
                    room.shrinkTo(length);
                }
                r = new Reader(length, true);
            }
        }
        reader = r;
        if (expired) {
            r.fail(timedOut(r));
        }
        return r;
    }

    private static long contentLength(HttpResponse.ResponseInfo info) {
        try {
            OptionalLong length = info.headers().firstValueAsLong("Content-Length");
            return length.isPresent() && length.getAsLong() >= 0 ? length.getAsLong() : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The deadline passed: ends the read now (or as soon as the headers come) and closes the connection. */
    void expire() {
        expired = true;
        Reader r = reader;
        if (r != null) {
            r.fail(timedOut(r));
        }
    }

    /** The sender gave up (interrupted): closes the connection at once instead of leaving it to the JDK client. */
    void abandon() {
        expired = true;
        Reader r = reader;
        if (r != null) {
            r.fail(new IOException("the Hub request for " + key + " was abandoned (interrupted)"));
        }
    }

    private TimedOut timedOut(Reader r) {
        String of = r.length >= 0 ? " of " + r.length : "";
        return new TimedOut("Hub answer for " + key + " did not arrive in full within hub.request_timeout_ms ("
                + timeoutMs + "): " + r.received + of + " body bytes read; the connection was closed");
    }

    /** Why the read ended early ({@link TooLarge}, {@link TimedOut}), or null when it did not. */
    IOException failure() {
        Reader r = reader;
        return r == null ? null : r.failure;
    }

    /** Body bytes received so far. */
    long received() {
        Reader r = reader;
        return r == null ? 0 : r.received;
    }

    /**
     * Reads one body: into an array of its {@code Content-Length}, into blocks of at most the bound when the length
     * is unknown, or nowhere when the body is not kept. Called by the client's threads one signal at a time; failed
     * from any thread.
     */
    private final class Reader implements HttpResponse.BodySubscriber<Handover> {
        private final CompletableFuture<Handover> body = new CompletableFuture<>();
        private final long length;
        private final boolean keep;
        private volatile Flow.Subscription subscription;
        private volatile IOException failure;
        private volatile long received;
        private byte[] whole;
        private final List<byte[]> blocks = new ArrayList<>();
        private byte[] last;
        private int lastUsed;
        private int allocated;

        Reader(long length, boolean keep) {
            this.length = length;
            this.keep = keep;
        }

        @Override
        public CompletionStage<Handover> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            IOException why = failure;
            if (why != null) {
                s.cancel();
                body.completeExceptionally(why);
            } else {
                s.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer b : items) {
                if (body.isDone()) {
                    return;
                }
                int n = b.remaining();
                received += n;
                bytesRead.add(n);
                if (!keep) {
                    continue;
                }
                if (received > maxBytes) {
                    fail(new TooLarge("Hub answer for " + key + " is larger than hub.max_response_bytes (" + maxBytes
                            + "): " + received + " bytes and more without a Content-Length; reading stopped"));
                    return;
                }
                copy(b, (int) (received - n));
            }
        }

        /** Copies {@code b} (the JDK's buffer, not kept: a trickled byte may pin a whole read buffer) to offset {@code at}. */
        private void copy(ByteBuffer b, int at) {
            if (length >= 0) {
                if (whole == null) {
                    whole = new byte[(int) length];
                }
                b.get(whole, at, b.remaining());
                return;
            }
            while (b.hasRemaining()) {
                if (last == null || lastUsed == last.length) {
                    // Never more than the bound in all: received is within it, and so is every block's size.
                    last = new byte[Math.min(BLOCK, maxBytes - allocated)];
                    blocks.add(last);
                    allocated += last.length;
                    lastUsed = 0;
                }
                int n = Math.min(b.remaining(), last.length - lastUsed);
                b.get(last, lastUsed, n);
                lastUsed += n;
            }
        }

        @Override
        public void onError(Throwable t) {
            body.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            byte[] out;
            if (!keep) {
                out = NONE;
            } else if (length >= 0) {
                out = whole == null ? NONE : whole;
            } else {
                out = joined();
            }
            whole = null;
            last = null;
            body.complete(new Handover(out));
        }

        private byte[] joined() {
            byte[] out = new byte[(int) received];
            int at = 0;
            for (byte[] block : blocks) {
                int n = Math.min(block.length, out.length - at);
                System.arraycopy(block, 0, out, at, n);
                at += n;
            }
            blocks.clear();
            room.shrinkTo(out.length);
            return out;
        }

        /** Ends the read with {@code why} unless it already ended, and cancels the body (closing the connection). */
        void fail(IOException why) {
            if (body.isDone()) {
                return;
            }
            // Set first: the sender reads it as soon as its send fails (the JDK client may fail the body with a
            // reason of its own when the subscription is cancelled). Should the read end otherwise at this very
            // moment, the reason named may be this one.
            failure = why;
            // The body fails only once its subscription is cancelled (here, or in onSubscribe when the headers are
            // still to come), so the connection is being closed by the time the sender hears of it.
            Flow.Subscription s = subscription;
            if (s != null) {
                s.cancel();
                body.completeExceptionally(why);
            }
        }
    }
}
