package dev.sluice.worker.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.nio.serialization.HazelcastSerializationException;
import com.hazelcast.topic.ITopic;
import com.hazelcast.topic.Message;

import java.util.Objects;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * One Hazelcast topic of fleet control messages: what is published is sealed by {@link ControlMessages}, and
 * subscribers get only the payloads of messages that pass its checks. Get it from
 * {@link ClusterMember#controlTopic}, which keeps one per topic so that a sender's sequence numbers stay in order.
 */
public final class ControlTopic {
    private final ControlMessages messages;
    private final ITopic<Object> topic;
    private final String name;
    private long sequence; // guarded by this

    ControlTopic(ControlMessages messages, ITopic<Object> topic, String name) {
        this.messages = Objects.requireNonNull(messages, "messages");
        this.topic = Objects.requireNonNull(topic, "topic");
        this.name = Objects.requireNonNull(name, "name");
    }

    /**
     * Publishes {@code payload} with the next sequence number. Sealing and publishing happen under one lock, so one
     * sender's messages reach every receiver in sequence order (Hazelcast keeps one publisher's order on a topic),
     * and a receiver that drops lower numbers after higher ones drops only replays.
     */
    public synchronized void publish(String payload) {
        topic.publish(messages.seal(name, ++sequence, payload));
    }

    /**
     * Calls {@code handler} with the payload of every message that passes the checks, on Hazelcast's event thread.
     * Each subscription remembers the senders it heard on its own. A payload the handler refuses with an
     * {@link IllegalArgumentException} counts as {@link ControlMessages.Rejection#MALFORMED}.
     *
     * @return the registration, for {@link #unsubscribe}
     */
    public UUID subscribe(Consumer<String> handler) {
        Objects.requireNonNull(handler, "handler");
        ControlMessages.Window window = messages.new Window();
        return topic.addMessageListener(m -> deliver(m, window, handler));
    }

    /** Ends a subscription; false when it was not there. */
    public boolean unsubscribe(UUID registration) {
        return topic.removeMessageListener(registration);
    }

    /** The topic's name, which is also the type every message on it carries. */
    public String name() {
        return name;
    }

    private void deliver(Message<Object> m, ControlMessages.Window window, Consumer<String> handler) {
        Object wire;
        try {
            wire = m.getMessageObject(); // deserialized here, on first use, through the member's Java filter
        } catch (HazelcastSerializationException e) {
            messages.rejected(name, ControlMessages.Rejection.MALFORMED, "an object this member does not deserialize: "
                    + e.getMessage(), publisher(m));
            return;
        }
        ControlMessages.Opened opened;
        try {
            opened = messages.open(name, wire);
        } catch (ControlMessages.Refused refused) {
            messages.rejected(name, refused.reason, refused.getMessage(), publisher(m));
            return;
        }
        ControlMessages.Rejection late = window.check(opened);
        if (late != null) {
            messages.rejected(name, late, "sequence " + opened.sequence() + " of sender " + opened.incarnation()
                    + ", sent at " + opened.sentAtMs() + " (epoch ms)", publisher(m));
            return;
        }
        try {
            handler.accept(opened.payload());
            messages.countAccepted();
        } catch (IllegalArgumentException e) {
            messages.rejected(name, ControlMessages.Rejection.MALFORMED, "a payload its handler cannot read: "
                    + e.getMessage(), publisher(m));
        }
    }

    private static Object publisher(Message<Object> m) {
        Member member = m.getPublishingMember();
        return member == null ? "(gone)" : member.getAddress();
    }

    @Override
    public String toString() {
        return "ControlTopic[" + name + (messages.authenticated() ? ", authenticated" : ", not authenticated") + "]";
    }
}
