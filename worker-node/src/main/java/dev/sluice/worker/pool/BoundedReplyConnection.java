package dev.sluice.worker.pool;

import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionFactory;
import redis.clients.jedis.DefaultJedisSocketFactory;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.PushConsumerChain;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.util.RedisInputStream;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * A Redis connection whose replies can never put more than a bound into this heap, whatever producers wrote.
 *
 * <p>Replies are read as Jedis reads them (RESP2: byte arrays, longs, lists), except that the bulk strings read
 * directly into one array may together take at most {@code maxArrayBytes}: a bulk string that would pass the bound
 * is not kept but streamed past, 64 KiB at a time, and stands in the reply as an {@link OversizedBulk} with its
 * length, a short prefix and its SHA-256. A stream entry's fields are one array, so an entry larger than the bound
 * never enters the heap whole, and neither does a list element (a lone bulk string) larger than it.
 *
 * <p>Typed Jedis calls expect byte arrays where an {@link OversizedBulk} may now stand; the queue adapters read
 * replies raw ({@code sendCommand}) wherever producer data can come back.
 */
public final class BoundedReplyConnection extends Connection {
    /** The bytes of an oversized bulk string kept as its prefix. */
    public static final int PREFIX_BYTES = 1024;
    private static final int CHUNK = 64 * 1024;

    /**
     * A bulk string too large to read into the heap.
     *
     * @param length  its length in bytes
     * @param prefix  its first {@link #PREFIX_BYTES} bytes at most
     * @param sha256  the SHA-256 of all its bytes, in hex
     */
    public record OversizedBulk(long length, byte[] prefix, String sha256) {
        @Override
        public String toString() {
            return "OversizedBulk[" + length + " bytes, sha256 " + sha256 + "]";
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof OversizedBulk b && b.length == length && b.sha256.equals(sha256)
                    && Arrays.equals(b.prefix, prefix);
        }

        @Override
        public int hashCode() {
            return sha256.hashCode();
        }
    }

    // Set after the super constructor, which already reads the handshake's replies (small, status or integer).
    private volatile int maxArrayBytes;

    public BoundedReplyConnection(HostAndPort address, JedisClientConfig config, int maxArrayBytes) {
        super(new DefaultJedisSocketFactory(address, config), config);
        this.maxArrayBytes = maxArrayBytes;
    }

    /** A pool factory of bounded connections. */
    public static ConnectionFactory factory(HostAndPort address, JedisClientConfig config, int maxArrayBytes) {
        return new ConnectionFactory(address, config) {
            @Override
            public PooledObject<Connection> makeObject() {
                return new DefaultPooledObject<>(new BoundedReplyConnection(address, config, maxArrayBytes));
            }
        };
    }

    @Override
    protected Object protocolRead(RedisInputStream is, PushConsumerChain pushConsumers) {
        int bound = maxArrayBytes;
        if (bound <= 0) {
            return Protocol.read(is, pushConsumers);
        }
        long[] budget = {bound};
        return read(is, pushConsumers, budget, bound);
    }

    private Object read(RedisInputStream is, PushConsumerChain pushConsumers, long[] budget, int bound) {
        if (is.peek(Protocol.DOLLAR_BYTE)) {
            is.readByte();
            return bulk(is, budget);
        }
        if (is.peek(Protocol.ASTERISK_BYTE)) {
            is.readByte();
            int n = is.readIntCrLf();
            if (n < 0) {
                return null;
            }
            List<Object> out = new ArrayList<>(Math.min(n, 1024));
            long[] own = {bound};
            for (int i = 0; i < n; i++) {
                out.add(read(is, pushConsumers, own, bound));
            }
            return out;
        }
        return Protocol.read(is, pushConsumers);
    }

    private static Object bulk(RedisInputStream is, long[] budget) {
        int length = is.readIntCrLf();
        if (length < 0) {
            return null;
        }
        if (length <= budget[0]) {
            budget[0] -= length;
            byte[] value = new byte[length];
            readFully(is, value, length);
            crlf(is);
            return value;
        }
        budget[0] = -1;
        MessageDigest sha = sha256();
        byte[] chunk = new byte[Math.min(CHUNK, length)];
        byte[] prefix = null;
        long left = length;
        while (left > 0) {
            int n = is.read(chunk, 0, (int) Math.min(chunk.length, left));
            if (n < 0) {
                throw new JedisConnectionException("the connection closed inside a bulk string of " + length + " bytes");
            }
            if (prefix == null) {
                prefix = Arrays.copyOf(chunk, Math.min(n, PREFIX_BYTES));
            }
            sha.update(chunk, 0, n);
            left -= n;
        }
        crlf(is);
        return new OversizedBulk(length, prefix == null ? new byte[0] : prefix, HexFormat.of().formatHex(sha.digest()));
    }

    private static void readFully(RedisInputStream is, byte[] into, int length) {
        int off = 0;
        while (off < length) {
            int n = is.read(into, off, length - off);
            if (n < 0) {
                throw new JedisConnectionException("the connection closed inside a bulk string of " + length + " bytes");
            }
            off += n;
        }
    }

    private static void crlf(RedisInputStream is) {
        if (is.readByte() != '\r' || is.readByte() != '\n') {
            throw new JedisConnectionException("a bulk string did not end with CRLF");
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }
}
