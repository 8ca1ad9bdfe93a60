package dev.sluice.common.config;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class KafkaClientPropertiesTest {

    @Test
    void everyClientStartsFromThePropertiesWithTheSectionsServersAndItsOwnId() {
        KafkaConfig kafka = ConfigLoader.parse("""
                [kafka]
                bootstrap_servers = "broker-1:9093"
                [kafka.properties]
                "security.protocol" = "SSL"
                "bootstrap.servers" = "elsewhere:9092"
                """, Map.of()).kafka();

        assertThat(kafka.clientProperties("sluice-sink-n1"))
                .containsEntry("security.protocol", "SSL")
                .as("bootstrap_servers wins over a bootstrap.servers property, for every client alike")
                .containsEntry("bootstrap.servers", "broker-1:9093")
                .containsEntry("client.id", "sluice-sink-n1");
        assertThat(kafka.clientProperties(null)).doesNotContainKey("client.id")
                .containsEntry("bootstrap.servers", "broker-1:9093");
    }
}
