package dev.sluice.coordinator.ingest;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Creates the coordinator's topics when they are missing, with the broker's default partitions and replication. */
public final class Topics {

    private static final Logger log = LoggerFactory.getLogger(Topics.class);

    private Topics() {
    }

    /**
     * Makes sure {@code name} exists; a new topic is created {@code cleanup.policy=compact} if {@code compacted}. An
     * existing topic that should be compacted and is not is reported, not changed.
     *
     * @throws IllegalStateException when the broker does not answer within {@code timeout} or refuses
     */
    public static void ensure(Admin admin, String name, boolean compacted, Duration timeout) {
        NewTopic topic = new NewTopic(name, Optional.empty(), Optional.empty());
        if (compacted) {
            topic.configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
        }
        try {
            admin.createTopics(List.of(topic)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            log.info("created topic {}{}", name, compacted ? " (compacted)" : "");
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("cannot create topic " + name + ": " + e.getCause(), e.getCause());
            }
            if (compacted) {
                checkCompacted(admin, name, timeout);
            }
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not answer within " + timeout + " when creating topic " + name, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topic " + name, e);
        }
    }

    private static void checkCompacted(Admin admin, String name, Duration timeout) {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, name);
        try {
            Config config = admin.describeConfigs(List.of(resource)).all()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(resource);
            String policy = config.get(TopicConfig.CLEANUP_POLICY_CONFIG).value();
            if (!policy.contains(TopicConfig.CLEANUP_POLICY_COMPACT)) {
                log.warn("topic {} has cleanup.policy={}, not compact: old alert states will not be compacted away",
                        name, policy);
            }
        } catch (ExecutionException | TimeoutException e) {
            log.warn("cannot read the configuration of topic {}: {}", name, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
