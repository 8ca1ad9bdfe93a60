package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.testkit.TopicReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the coordinator's alerts topic from its beginning. */
final class AlertsTopic {

    private AlertsTopic() {
    }

    /**
     * Every record of the topic in order, fingerprint (the record key) to the states it went through ({@code firing},
     * {@code resolved}, {@code tombstone} for a null value). Fails if a value's fingerprint is not its key.
     */
    static Map<String, List<String>> states(String bootstrapServers, String topic) {
        Map<String, List<String>> states = new LinkedHashMap<>();
        try {
            for (ConsumerRecord<String, byte[]> record : TopicReader.readAll(bootstrapServers, topic)) {
                String state;
                if (record.value() == null) {
                    state = "tombstone";
                } else {
                    JsonNode value = Http.JSON.readTree(record.value());
                    if (!value.path("fingerprint").asText().equals(record.key())) {
                        throw new AssertionError("alert record keyed " + record.key() + " carries fingerprint "
                                + value.path("fingerprint").asText());
                    }
                    state = value.path("state").asText();
                }
                states.computeIfAbsent(record.key(), k -> new ArrayList<>()).add(state);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return states;
    }
}
