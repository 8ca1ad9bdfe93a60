package dev.sluice.hubsim;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * How the body of a 200 answer goes out: its size, its framing and its pace, to play a Hub that answers too much
 * or too slowly.
 *
 * <p>With {@code bytes} above 0 the key's document gets a {@code "pad"} field of {@code x}s that makes it exactly
 * that many bytes ({@code {"key":…,"value":…,"version":1,"pad":"xxx…"}}), unless the document alone is longer,
 * when it goes out as it is. The body is generated as it is written, so a Hub answering hundreds of 64 MiB bodies
 * at once needs no memory for them. With {@code chunked} it goes out in chunked transfer encoding, without a
 * {@code Content-Length}. With {@code trickleMs} above 0 it goes out in pieces spread over that many milliseconds
 * after the headers (at most one piece per byte, at least 20 ms apart), each flushed at once; a client that hangs
 * up is noticed at the next piece.
 *
 * @param bytes     the body's size, 0 (the default) for the plain document; 0 to 1073741824
 * @param chunked   chunked transfer encoding without a Content-Length
 * @param trickleMs how long sending the body takes after the headers, 0 to 600000 ms; 0 sends it at once
 */
record BodyShape(long bytes, boolean chunked, long trickleMs) {
    static final long MAX_BYTES = 1L << 30;
    static final BodyShape PLAIN = new BodyShape(0, false, 0);
    /** A body that is not trickled goes out in pieces of this size (the last one after the request is recorded). */
    static final int PIECE_BYTES = 64 * 1024;
    private static final long MIN_PIECE_INTERVAL_MS = 20;
    private static final byte[] PAD = filled(PIECE_BYTES);
    private static final byte[] PAD_OPEN = ",\"pad\":\"".getBytes(StandardCharsets.UTF_8);
    private static final byte[] PAD_CLOSE = "\"}".getBytes(StandardCharsets.UTF_8);

    BodyShape {
        InvalidSettingException.requireBetween("bodyBytes", bytes, 0, MAX_BYTES);
        InvalidSettingException.requireBetween("bodyTrickleMs", trickleMs, 0, Behaviour.MAX_DELAY_MS);
    }

    private static byte[] filled(int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) 'x');
        return b;
    }

    /** The body of {@code document} in this shape. */
    Body of(byte[] document) {
        long padding = bytes - (document.length - 1L + PAD_OPEN.length + PAD_CLOSE.length);
        if (bytes == 0 || padding < 0) {
            return new Body(document, 0, new byte[0]);
        }
        byte[] head = Arrays.copyOf(document, document.length - 1 + PAD_OPEN.length);
        System.arraycopy(PAD_OPEN, 0, head, document.length - 1, PAD_OPEN.length);
        return new Body(head, padding, PAD_CLOSE);
    }

    /** A body made of a head, {@code padding} {@code x}s and a tail, written a range at a time. */
    record Body(byte[] head, long padding, byte[] tail) {
        long length() {
            return head.length + padding + tail.length;
        }

        /** Writes bytes {@code [from, to)} of the body. */
        void write(OutputStream out, long from, long to) throws IOException {
            long at = from;
            while (at < to) {
                if (at < head.length) {
                    int n = (int) Math.min(to, head.length) - (int) at;
                    out.write(head, (int) at, n);
                    at += n;
                } else if (at < head.length + padding) {
                    long end = Math.min(to, head.length + padding);
                    int n = (int) Math.min(end - at, PAD.length);
                    out.write(PAD, 0, n);
                    at += n;
                } else {
                    int offset = (int) (at - head.length - padding);
                    int n = (int) (to - at);
                    out.write(tail, offset, n);
                    at += n;
                }
            }
        }
    }

    /**
     * How a body of {@code length} bytes is cut: without a trickle into pieces of about {@link #PIECE_BYTES} sent
     * back to back; with one into a piece per 20 ms of the trickle (never more pieces than bytes), evenly spaced.
     */
    Pieces piecesFor(long length) {
        if (trickleMs == 0 || length <= 1) {
            return new Pieces(length, Math.max(1, (length + PIECE_BYTES - 1) / PIECE_BYTES), 0);
        }
        long count = Math.max(1, Math.min(length, trickleMs / MIN_PIECE_INTERVAL_MS));
        return new Pieces(length, count, trickleMs / count);
    }

    /**
     * A body cut into {@code count} pieces of (nearly) equal size.
     *
     * @param length     the body's size
     * @param count      how many pieces
     * @param intervalMs the pause after each piece but the last
     */
    record Pieces(long length, long count, long intervalMs) {
        /** Where piece {@code i} (from 0) ends. */
        long end(long i) {
            return i + 1 >= count ? length : length / count * (i + 1) + Math.min(i + 1, length % count);
        }
    }
}
