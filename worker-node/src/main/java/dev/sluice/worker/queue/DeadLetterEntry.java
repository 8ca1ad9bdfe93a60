package dev.sluice.worker.queue;

import java.util.Map;

/**
 * One dead letter: the original job fields and why it died.
 *
 * @param id       the entry id in the dead-letter stream
 * @param jobId    the job id, when the job could be parsed
 * @param kind     the error kind tag
 * @param reason   the message
 * @param attempts attempts that ran the handler
 * @param node     the node that dead-lettered it
 * @param atMs     when, in epoch milliseconds
 * @param original the job as the producer wrote it
 */
public record DeadLetterEntry(String id, String jobId, String kind, String reason, int attempts, String node,
                              long atMs, Map<String, String> original) {
}
