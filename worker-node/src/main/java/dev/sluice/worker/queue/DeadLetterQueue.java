package dev.sluice.worker.queue;

import dev.sluice.control.DeadLetterEntry;

import java.util.Collection;
import java.util.List;

/** The dead-letter side of the queue: list, replay and trim its dead letters. */
public interface DeadLetterQueue {

    /** The newest dead letters first, up to {@code count}. */
    List<DeadLetterEntry> deadLetters(int count);

    /** Puts dead letters back on the queue with their attempts reset; returns how many. */
    int replayDeadLetters(Collection<String> deadLetterIds);

    /** Trims dead letters older than the retention; returns how many were removed. */
    long trimDeadLetters();
}
