package dev.sluice.common.config;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class ConfigViewTest {

    private static final String TOML = """
            [redis]
            url = "redis://app:hunter2@redis.internal:6380/2"
            pool_size = 7
            [hub]
            base_url = "https://bob:opensesame@hub.example:8443"
            [kafka]
            properties = { "security.protocol" = "SASL_SSL", "sasl.jaas.config" = "PlainLoginModule password=kafkapw;", "ssl.truststore.password" = "trustpw" }
            [metrics]
            token = "t0ken-value"
            [cluster]
            members = ["10.0.0.1:5701", "10.0.0.2"]
            """;

    @Test
    void showsEveryKnownKeyUnderItsFileName() {
        Map<String, Map<String, Object>> view = ConfigView.redacted(SluiceConfig.ofDefaults());

        Set<String> shown = new LinkedHashSet<>();
        view.forEach((section, keys) -> keys.keySet().forEach(k -> shown.add(section + "." + k)));
        assertThat(shown).containsExactlyInAnyOrderElementsOf(ConfigLoader.knownKeys());
        assertThat(view.keySet()).containsExactlyElementsOf(ConfigLoader.SECTIONS);
        assertThat(view.get("redis")).containsEntry("pool_size", 20).containsEntry("url", "redis://127.0.0.1:6379");
        assertThat(view.get("queue")).containsEntry("mode", "stream");
        assertThat(view.get("metrics")).containsEntry("token", "");
    }

    @Test
    void hidesPasswordsTokensAndSecretKafkaProperties() {
        SluiceConfig config = ConfigLoader.parse(TOML, Map.of());

        Map<String, Map<String, Object>> view = ConfigView.redacted(config);

        assertThat(view.get("redis")).containsEntry("url", "redis://app:***@redis.internal:6380/2")
                .containsEntry("pool_size", 7);
        assertThat(view.get("hub")).containsEntry("base_url", "https://bob:***@hub.example:8443");
        assertThat(view.get("metrics")).containsEntry("token", ConfigView.HIDDEN);
        assertThat(view.get("kafka").get("properties")).isEqualTo(Map.of("security.protocol", "SASL_SSL",
                "sasl.jaas.config", ConfigView.HIDDEN, "ssl.truststore.password", ConfigView.HIDDEN));
        assertThat(view.get("cluster").get("members")).isEqualTo(java.util.List.of("10.0.0.1:5701", "10.0.0.2"));
        assertThat(view.toString()).doesNotContain("hunter2", "opensesame", "t0ken-value", "kafkapw", "trustpw");
    }

    @Test
    void namesKeysInCamelCaseForRecordComponents() {
        assertThat(ConfigView.camelCase("max_connection_lifetime_secs")).isEqualTo("maxConnectionLifetimeSecs");
        assertThat(ConfigView.camelCase("url")).isEqualTo("url");
    }
}
