package dev.sluice.worker.events;

import dev.sluice.common.event.EventPayload;

/** Where a node's events go: Kafka ({@link EventPublisher}), or nowhere when {@code kafka.enabled} is false. */
public interface EventSink extends AutoCloseable {

    /** Takes no event: a node without Kafka. */
    EventSink NONE = new EventSink() {
        @Override
        public boolean publish(EventPayload payload) {
            return false;
        }

        @Override
        public void close() {
        }
    };

    /** Events taken and then dropped (the buffer was full while Kafka could not be reached), since start. */
    default long dropped() {
        return 0;
    }

    /** Queues {@code payload} for sending; false when it was not taken. Never blocks. */
    boolean publish(EventPayload payload);

    @Override
    void close();
}
