package dev.sluice.control;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One dead letter: the original job fields and why it died.
 *
 * @param id        the entry id in the dead-letter stream
 * @param jobId     the job id, when the job could be parsed
 * @param kind      the error kind tag
 * @param reason    the message
 * @param attempts  attempts that ran the handler
 * @param node      the node that dead-lettered it
 * @param atMs      when, in epoch milliseconds
 * @param original  the job as the producer wrote it
 * @param truncated whether it keeps only a prefix of an entry too large to read (it cannot be replayed)
 */
public record DeadLetterEntry(String id, String jobId, String kind, String reason, int attempts, String node,
                              long atMs, Map<String, String> original, boolean truncated) {
    /** As the dashboard's list shows it: everything but the job's fields ({@code withPayload}: those too). */
    public Map<String, Object> toMap(boolean withPayload) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("jobId", jobId);
        m.put("kind", kind);
        m.put("reason", reason);
        m.put("attempts", attempts);
        m.put("node", node);
        m.put("at", atMs == 0 ? null : Instant.ofEpochMilli(atMs).toString());
        m.put("truncated", truncated);
        if (withPayload) {
            m.put("job", original);
        }
        return m;
    }
}
