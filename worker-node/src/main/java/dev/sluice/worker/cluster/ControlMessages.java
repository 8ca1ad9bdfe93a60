package dev.sluice.worker.cluster;

import com.hazelcast.core.HazelcastInstance;
import dev.sluice.common.config.ClusterConfig;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.Serial;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Seals and checks the fleet's control messages: the messages nodes send one another on Hazelcast topics (a 429
 * pause, permit wake-ups, a graceful leave). Any member of the cluster can publish on any topic, and Hazelcast's
 * community edition cannot tell a Sluice node from anybody else who reaches the cluster port; these messages can
 * stop the fleet's Hub calls or shrink its majority, so receivers accept only what a node holding
 * {@code cluster.secret} sent, once, recently.
 *
 * <h2>Wire format, version {@value #VERSION}</h2>
 * A {@code byte[]} on the topic (never a Java-serialized object), big-endian:
 * <pre>
 *   byte    version ({@value #VERSION}; the reader refuses any other)
 *   short   length of the type, then the type in UTF-8 (the topic's name: a message is good for one topic only)
 *   long    sender incarnation, most significant bits   (a random UUID per sender, drawn when it starts;
 *   long    sender incarnation, least significant bits   not the Hazelcast member UUID)
 *   long    sequence number, per sender incarnation and topic, from 1
 *   long    send time, the sender's wall clock in epoch milliseconds
 *   int     length of the payload, then the payload in UTF-8
 *   byte    length of the MAC (0 or 32), then the MAC
 * </pre>
 * The MAC is HMAC-SHA256 under {@code cluster.secret} over the cluster name (length-prefixed UTF-8, not sent) and
 * every byte before the MAC's length, so a message is bound to its cluster, version, topic, sender, sequence, time
 * and payload.
 *
 * <h2>What a receiver drops</h2>
 * Each drop is counted by {@link Rejection} and logged at most every {@value #WARN_EVERY_SECONDS} s at WARN with
 * the publishing member's address. In the order of the checks: not a version-{@value #VERSION} message
 * ({@code version}: a bare {@code Long} or {@code String}, as nodes before this format sent); a Java-serialized
 * object the member's filter refuses, a message cut short, sent for another topic, or whose payload its handler
 * cannot read ({@code malformed}); with {@code cluster.secret} set, a missing or wrong MAC ({@code bad_mac}); a
 * send time more than {@link #MAX_SKEW} before ({@code stale}) or after ({@code future}) the receiver's clock; a
 * sequence number not greater than the last one accepted from that incarnation on that topic ({@code replay}).
 * An incarnation is forgotten once nothing from it was accepted for twice {@link #MAX_SKEW}: by then every message
 * it sent before is stale.
 *
 * <h2>Without {@code cluster.secret}</h2>
 * Messages go unsigned and the MAC is not checked: any member can send them, as before this format. The time and
 * sequence checks still apply, so a captured message cannot be replayed after {@link #MAX_SKEW}. The first
 * {@code ControlMessages} built so in a process logs a WARN saying so.
 *
 * <h2>What this does not cover</h2>
 * A receiver that never saw an incarnation (it joined after the message was sent, or restarted) accepts a
 * replayed message of it while the message is within {@link #MAX_SKEW}. Nodes' clocks must agree within
 * {@link #MAX_SKEW} (NTP). Nothing here protects the limiter's maps: a rogue member can read and change them.
 */
public final class ControlMessages implements MeterBinder {
    private static final Logger log = LoggerFactory.getLogger(ControlMessages.class);

    /** The wire format written and the only one read. */
    public static final byte VERSION = 1;
    /** How far a message's send time may be from the receiver's clock, either way. */
    public static final Duration MAX_SKEW = Duration.ofSeconds(30);
    /** The Micrometer name of the rejection counter ({@code sluice_cluster_messages_rejected_total{reason}}). */
    public static final String REJECTED_METER = "sluice.cluster.messages.rejected";
    static final int MAC_LENGTH = 32;
    private static final String HMAC = "HmacSHA256";
    private static final int WARN_EVERY_SECONDS = 10;
    /** Incarnations a subscription remembers before it sweeps out those it may forget. */
    private static final int SWEEP_ABOVE = 1_024;
    private static final AtomicBoolean UNAUTHENTICATED_WARNED = new AtomicBoolean();

    /** Why a control message was dropped; {@link #tag()} is the {@code reason} label. */
    public enum Rejection {
        /** Not a version-{@value ControlMessages#VERSION} message: another version, or no version at all. */
        VERSION,
        /**
         * Cut short, with trailing bytes, for another topic, with a payload its receiver cannot read, or an object
         * the member's Java serialization filter refuses to deserialize.
         */
        MALFORMED,
        /** With {@code cluster.secret} set: no MAC, or one that does not match. */
        BAD_MAC,
        /** Sent more than {@link ControlMessages#MAX_SKEW} ago by the receiver's clock. */
        STALE,
        /** Sent more than {@link ControlMessages#MAX_SKEW} in the future by the receiver's clock. */
        FUTURE,
        /** A sequence number not greater than the last one accepted from the same sender incarnation. */
        REPLAY;

        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final String clusterName;
    private final SecretKeySpec key;
    private final Clock clock;
    private final UUID incarnation = UUID.randomUUID();
    private final Map<Rejection, LongAdder> rejected = new EnumMap<>(Rejection.class);
    private final LongAdder accepted = new LongAdder();
    private final AtomicLong nextWarnAt = new AtomicLong(Long.MIN_VALUE);
    private final LongAdder unlogged = new LongAdder();

    private ControlMessages(String clusterName, String secret, Clock clock) {
        this.clusterName = Objects.requireNonNull(clusterName, "clusterName");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (secret == null || secret.isEmpty()) {
            this.key = null;
            if (UNAUTHENTICATED_WARNED.compareAndSet(false, true)) {
                log.warn("cluster.secret is not set: fleet control messages (429 pauses, permit wake-ups, graceful "
                        + "leaves) are not authenticated, so any member that joins cluster '{}' can send them; set "
                        + "cluster.secret (at least {} characters, the same on every node)", clusterName,
                        ClusterConfig.MIN_SECRET_LENGTH);
            }
        } else {
            if (secret.length() < ClusterConfig.MIN_SECRET_LENGTH) {
                throw new IllegalArgumentException("cluster.secret must be at least " + ClusterConfig.MIN_SECRET_LENGTH
                        + " characters, but was " + secret.length() + " characters");
            }
            this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), HMAC);
        }
        for (Rejection r : Rejection.values()) {
            rejected.put(r, new LongAdder());
        }
    }

    /**
     * Control messages of cluster {@code clusterName}, authenticated under {@code secret} (at least
     * {@value ClusterConfig#MIN_SECRET_LENGTH} characters) or not when it is empty or null, timed by {@code clock}.
     */
    public static ControlMessages of(String clusterName, String secret, Clock clock) {
        return new ControlMessages(clusterName, secret, clock);
    }

    /** Whether messages are signed and their MAC checked. */
    public boolean authenticated() {
        return key != null;
    }

    /** This sender's random id, drawn when it was built. */
    public UUID incarnation() {
        return incarnation;
    }

    /**
     * The topic {@code name} of {@code hazelcast} for control messages. Each result numbers its own messages: a
     * sender uses one per topic (see {@link ClusterMember#controlTopic}).
     */
    public ControlTopic topic(HazelcastInstance hazelcast, String name) {
        return new ControlTopic(this, hazelcast.<Object>getTopic(name), name);
    }

    /** Messages dropped for {@code reason} so far, over all topics and subscriptions. */
    public long rejected(Rejection reason) {
        return rejected.get(reason).sum();
    }

    /** Messages dropped so far, for any reason. */
    public long rejected() {
        return rejected.values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** Messages accepted and handed to a handler so far. */
    public long accepted() {
        return accepted.sum();
    }

    /** Registers {@value #REJECTED_METER} with a {@code reason} tag per {@link Rejection}. */
    @Override
    public void bindTo(MeterRegistry registry) {
        for (Rejection r : Rejection.values()) {
            FunctionCounter.builder(REJECTED_METER, this, c -> c.rejected(r))
                    .tag("reason", r.tag())
                    .description("Fleet control messages dropped: bad or missing MAC, replayed, too old or too new, "
                            + "unreadable or of another version")
                    .register(registry);
        }
    }

    /** The message of sequence {@code sequence} on topic {@code type}, sent now. */
    byte[] seal(String type, long sequence, String payload) {
        byte[] typeBytes = type.getBytes(StandardCharsets.UTF_8);
        byte[] payloadBytes = payload.getBytes(StandardCharsets.UTF_8);
        int macLength = key == null ? 0 : MAC_LENGTH;
        ByteBuffer out = ByteBuffer.allocate(1 + 2 + typeBytes.length + 8 * 4 + 4 + payloadBytes.length + 1 + macLength);
        out.put(VERSION);
        out.putShort((short) typeBytes.length).put(typeBytes);
        out.putLong(incarnation.getMostSignificantBits()).putLong(incarnation.getLeastSignificantBits());
        out.putLong(sequence);
        out.putLong(clock.millis());
        out.putInt(payloadBytes.length).put(payloadBytes);
        int signedLength = out.position();
        out.put((byte) macLength);
        if (key != null) {
            out.put(mac(out.array(), signedLength));
        }
        return out.array();
    }

    /** A message that passed the format and MAC checks; {@link Window} checks its time and sequence. */
    record Opened(UUID incarnation, long sequence, long sentAtMs, String payload) {
    }

    /** Thrown by {@link #open} with the reason. */
    static final class Refused extends Exception {
        @Serial
        private static final long serialVersionUID = 1L;
        final transient Rejection reason;

        Refused(Rejection reason, String detail) {
            super(detail, null, false, false);
            this.reason = reason;
        }
    }

    /** Reads {@code wire} as a message for topic {@code type} and checks its MAC. */
    Opened open(String type, Object wire) throws Refused {
        if (!(wire instanceof byte[] bytes)) {
            throw new Refused(Rejection.VERSION, "a " + (wire == null ? "null" : wire.getClass().getName())
                    + " instead of a version " + VERSION + " message");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            byte version = in.get();
            if (version != VERSION) {
                throw new Refused(Rejection.VERSION, "version " + version + ", but this node reads version " + VERSION);
            }
            String sentFor = string(in, Short.toUnsignedInt(in.getShort()));
            if (!sentFor.equals(type)) {
                throw new Refused(Rejection.MALFORMED, "sent for topic " + sentFor);
            }
            UUID from = new UUID(in.getLong(), in.getLong());
            long sequence = in.getLong();
            long sentAt = in.getLong();
            int payloadLength = in.getInt();
            if (payloadLength < 0) {
                throw new Refused(Rejection.MALFORMED, "a negative payload length");
            }
            String payload = string(in, payloadLength);
            int signedLength = in.position();
            int macLength = Byte.toUnsignedInt(in.get());
            if (macLength != 0 && macLength != MAC_LENGTH) {
                throw new Refused(Rejection.MALFORMED, "a MAC of " + macLength + " bytes");
            }
            byte[] mac = new byte[macLength];
            in.get(mac);
            if (in.hasRemaining()) {
                throw new Refused(Rejection.MALFORMED, in.remaining() + " bytes after the MAC");
            }
            if (key != null && (macLength == 0 || !MessageDigest.isEqual(mac, mac(bytes, signedLength)))) {
                throw new Refused(Rejection.BAD_MAC, macLength == 0 ? "no MAC" : "a MAC that does not match");
            }
            return new Opened(from, sequence, sentAt, payload);
        } catch (BufferUnderflowException e) {
            throw new Refused(Rejection.MALFORMED, "cut short or unreadable");
        }
    }

    private static String string(ByteBuffer in, int length) {
        if (length > in.remaining()) {
            throw new BufferUnderflowException();
        }
        byte[] b = new byte[length];
        in.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private byte[] mac(byte[] message, int length) {
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(key);
            byte[] cluster = clusterName.getBytes(StandardCharsets.UTF_8);
            mac.update(ByteBuffer.allocate(4).putInt(cluster.length).array());
            mac.update(cluster);
            mac.update(message, 0, length);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }

    long nowMs() {
        return clock.millis();
    }

    void countAccepted() {
        accepted.increment();
    }

    void rejected(String topic, Rejection reason, String detail, Object publisher) {
        rejected.get(reason).increment();
        long now = System.nanoTime();
        long next = nextWarnAt.get();
        if ((next == Long.MIN_VALUE || now - next >= 0)
                && nextWarnAt.compareAndSet(next, now + Duration.ofSeconds(WARN_EVERY_SECONDS).toNanos())) {
            long more = unlogged.sumThenReset();
            log.warn("dropped a control message on topic {} from member {}: {} ({}){}", topic, publisher, reason.tag(),
                    detail, more == 0 ? "" : "; " + more + " more dropped since the last report");
        } else {
            unlogged.increment();
            log.debug("dropped a control message on topic {} from member {}: {} ({})", topic, publisher, reason.tag(),
                    detail);
        }
    }

    /**
     * One subscription's memory of the senders it heard: the last sequence number accepted per incarnation.
     * Entries are swept once nothing came from them for twice {@link #MAX_SKEW}.
     */
    final class Window {
        private final Map<UUID, long[]> lastSeen = new java.util.HashMap<>(); // incarnation -> {sequence, acceptedAtMs}
        private long nextSweepMs = Long.MIN_VALUE;

        /** Null when {@code message} is timely and new, else why not. */
        synchronized Rejection check(Opened message) {
            long now = nowMs();
            long age = now - message.sentAtMs();
            if (age > MAX_SKEW.toMillis()) {
                return Rejection.STALE;
            }
            if (-age > MAX_SKEW.toMillis()) {
                return Rejection.FUTURE;
            }
            long[] seen = lastSeen.get(message.incarnation());
            if (seen != null && message.sequence() <= seen[0]) {
                return Rejection.REPLAY;
            }
            sweep(now);
            lastSeen.put(message.incarnation(), new long[] {message.sequence(), now});
            return null;
        }

        private void sweep(long now) {
            if (lastSeen.size() < SWEEP_ABOVE || now < nextSweepMs) {
                return;
            }
            long forgetBefore = now - 2 * MAX_SKEW.toMillis();
            lastSeen.values().removeIf(seen -> seen[1] < forgetBefore);
            nextSweepMs = now + 1_000;
        }

        synchronized int senders() {
            return lastSeen.size();
        }
    }
}
