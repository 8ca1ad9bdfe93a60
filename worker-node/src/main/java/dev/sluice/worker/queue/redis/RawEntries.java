package dev.sluice.worker.queue.redis;

import dev.sluice.worker.queue.Delivery;
import dev.sluice.common.job.BadJobException;
import dev.sluice.common.job.JobCodec;
import dev.sluice.worker.pool.BoundedReplyConnection.OversizedBulk;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns raw replies (from a {@link dev.sluice.worker.pool.BoundedReplyConnection}) into deliveries, handling job
 * data as exact bytes: a value too large to have been read, an entry with more fields than a job may have, and bytes
 * that are not UTF-8 each make a malformed delivery that keeps what the dead letter needs (a bounded view, the
 * exact bytes, or the size and hash), never a changed job.
 */
public final class RawEntries {
    /** The most fields of an unreadable entry kept in its readable view. */
    private static final int VIEW_FIELDS = 64;

    private RawEntries() {
    }

    /** A stream entry: {@code flat} is field, value, ... as read. */
    public static Delivery stream(String id, List<?> flat, long deliveries, JobCodec codec, int maxJobBytes) {
        if (flat == null) {
            flat = List.of();
        }
        int fields = flat.size() / 2;
        long bytes = 0;
        Map<String, String> unreadHashes = new LinkedHashMap<>();
        boolean oversized = false;
        for (int i = 0; i < flat.size(); i++) {
            Object o = flat.get(i);
            if (o instanceof OversizedBulk big) {
                bytes += big.length();
                oversized = true;
                if (i % 2 == 1 && unreadHashes.size() < VIEW_FIELDS) {
                    unreadHashes.put(lossy(flat.get(i - 1)), big.sha256());
                }
            } else if (o instanceof byte[] b) {
                bytes += b.length;
            }
        }
        if (oversized || fields > JobCodec.MAX_FIELDS) {
            String reason = fields > JobCodec.MAX_FIELDS
                    ? "entry has " + fields + " fields, more than a job may have (" + JobCodec.MAX_FIELDS + ")"
                    : "job is " + bytes + " bytes, more than queue.max_job_bytes (" + maxJobBytes + ")";
            return new Delivery(id, null, new BadJobException(reason), view(flat), deliveries, null,
                    new Delivery.Unread(bytes, fields, unreadHashes, oversized ? null : sha256(flat)));
        }
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i + 1 < flat.size(); i += 2) {
            String name = strict(flat.get(i));
            String value = strict(flat.get(i + 1));
            if (name == null || value == null) {
                List<byte[]> exact = new ArrayList<>(flat.size());
                flat.forEach(o -> exact.add(o instanceof byte[] b ? b : new byte[0]));
                String reason = name == null ? "a field name is not valid UTF-8"
                        : "field '" + name + "' is not valid UTF-8";
                return new Delivery(id, null, new BadJobException(reason), view(flat), deliveries, exact, null);
            }
            map.put(name, value);
        }
        try {
            return new Delivery(id, codec.fromFields(map), null, map, deliveries);
        } catch (BadJobException e) {
            return new Delivery(id, null, e, map, deliveries);
        }
    }

    /**
     * A list element, read as {@code reply}: a valid one becomes a delivery whose handle is the element; one that is
     * not UTF-8 or too large is malformed, its handle a readable view (its removal goes by {@code exact} bytes, or by
     * position for one too large).
     */
    public static Delivery listElement(Object reply, long deliveries, JobCodec codec, int maxJobBytes) {
        if (reply instanceof OversizedBulk big) {
            String view = lossy(big.prefix());
            return new Delivery(view, null, new BadJobException("job is " + big.length()
                    + " bytes, more than queue.max_job_bytes (" + maxJobBytes + ")"), Map.of("element", view), deliveries,
                    null, new Delivery.Unread(big.length(), 1, Map.of("element", big.sha256()), null));
        }
        byte[] bytes = (byte[]) reply;
        String element = strict(bytes);
        if (element == null) {
            String view = lossy(bytes);
            return new Delivery(view, null, new BadJobException("element is not valid UTF-8"), Map.of("element", view),
                    deliveries, List.of("element".getBytes(StandardCharsets.UTF_8), bytes), null);
        }
        Map<String, String> raw = Map.of("element", element);
        try {
            return new Delivery(element, codec.fromListElement(element), null, raw, deliveries);
        } catch (BadJobException e) {
            return new Delivery(element, null, e, raw, deliveries);
        }
    }

    /**
     * Drops the reply's reference to element {@code i}, once it has become a delivery: a batch of n entries is then
     * held once (as deliveries), never twice (as raw bytes and as deliveries) while the rest of it is converted.
     */
    public static <T> void release(List<T> reply, int i) {
        reply.set(i, null);
    }

    /** SHA-256 of every name and value, each followed by a zero byte (as dead letters state it). */
    private static String sha256(List<?> flat) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (Object o : flat) {
                if (o instanceof byte[] b) {
                    digest.update(b);
                }
                digest.update((byte) 0);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }

    /** Decodes exact UTF-8, or null when the bytes are not UTF-8. */
    public static String strict(Object o) {
        if (!(o instanceof byte[] b)) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static String lossy(Object o) {
        if (o instanceof byte[] b) {
            return new String(b, StandardCharsets.UTF_8);
        }
        if (o instanceof OversizedBulk big) {
            return new String(big.prefix(), StandardCharsets.UTF_8);
        }
        return String.valueOf(o);
    }

    /** A readable view of at most {@link #VIEW_FIELDS} fields, each at most a prefix. */
    private static Map<String, String> view(List<?> flat) {
        Map<String, String> out = new LinkedHashMap<>();
        // The fields that name the job first, wherever the producer put them.
        for (int i = 0; i + 1 < flat.size(); i += 2) {
            String name = lossy(flat.get(i));
            if (name.equals("key") || name.equals("id") || name.equals("type")) {
                String v = lossy(flat.get(i + 1));
                out.putIfAbsent(name, v.length() > 1024 ? v.substring(0, 1024) : v);
            }
        }
        for (int i = 0; i + 1 < flat.size() && out.size() < VIEW_FIELDS; i += 2) {
            String v = lossy(flat.get(i + 1));
            out.putIfAbsent(lossy(flat.get(i)), v.length() > 1024 ? v.substring(0, 1024) : v);
        }
        return out;
    }
}
