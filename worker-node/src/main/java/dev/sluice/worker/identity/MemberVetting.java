package dev.sluice.worker.identity;

import com.hazelcast.cluster.Member;
import dev.sluice.worker.pool.RedisConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.params.SetParams;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Tells Sluice nodes from anything else that joined the Hazelcast cluster. The community edition has no member
 * authentication, so any process that reaches the member port can join and read or write the limiter's store. Each
 * node registers its Hazelcast member UUID in Redis ({@code sluice:member:<uuid>}, renewed with its liveness record):
 * only a process that can write Redis registers, and every node must reach Redis anyway. A member that stays
 * unregistered longer than the grace makes this node treat the limiter's store as untrusted
 * ({@code cluster.on_store_failure} applies, and the limiter-degraded event raises the coordinator's alert) until it
 * leaves or registers.
 */
public final class MemberVetting {
    private static final Logger log = LoggerFactory.getLogger(MemberVetting.class);

    private final RedisConnections redis;
    private final Supplier<Set<Member>> members;
    private final Supplier<UUID> self;
    private final String nodeId;
    private final Duration grace;
    private final LongSupplier nanoTime;
    private final Consumer<String> distrust;
    private final Runnable trust;
    private final Map<UUID, Long> unknownSince = new HashMap<>();
    private String distrusted;

    /**
     * @param members   the cluster's members now
     * @param self      this member's UUID now (it changes when a split cluster merges)
     * @param grace     how long a member may stay unregistered (a node registers when it starts)
     * @param distrust  told why, when the store becomes untrusted
     * @param trust     told when every member is known again
     */
    public MemberVetting(RedisConnections redis, Supplier<Set<Member>> members, Supplier<UUID> self, String nodeId, Duration grace,
                         LongSupplier nanoTime, Consumer<String> distrust, Runnable trust) {
        this.redis = redis;
        this.members = members;
        this.self = self;
        this.nodeId = nodeId;
        this.grace = grace;
        this.nanoTime = nanoTime;
        this.distrust = distrust;
        this.trust = trust;
    }

    private static String key(UUID member) {
        return "sluice:member:" + member;
    }

    /** Registers (again) this node's member, for {@code ttl}; the caller renews it well inside that. */
    public void register(Duration ttl) {
        UUID me = self.get();
        redis.withJedis(j -> j.set(key(me), nodeId, SetParams.setParams().px(ttl.toMillis())));
    }

    /** Looks at every other member once; call it on a schedule. Redis errors are thrown for the caller to log. */
    public synchronized void check() {
        Set<Member> now = members.get();
        Set<UUID> present = new HashSet<>();
        UUID me = self.get();
        for (Member m : now) {
            if (!m.getUuid().equals(me)) {
                present.add(m.getUuid());
            }
        }
        unknownSince.keySet().retainAll(present);
        List<UUID> ids = List.copyOf(present);
        List<String> registered = ids.isEmpty() ? List.of()
                : redis.withJedis(j -> j.mget(ids.stream().map(MemberVetting::key).toArray(String[]::new)));
        long t = nanoTime.getAsLong();
        String reason = null;
        for (int i = 0; i < ids.size(); i++) {
            UUID id = ids.get(i);
            if (registered.get(i) != null) {
                unknownSince.remove(id);
                continue;
            }
            long since = unknownSince.computeIfAbsent(id, k -> t);
            if (t - since >= grace.toNanos() && reason == null) {
                String address = now.stream().filter(m -> m.getUuid().equals(id)).map(m -> String.valueOf(m.getAddress()))
                        .findFirst().orElse("?");
                reason = "cluster member " + address + " (" + id + ") is not a registered Sluice node: the limiter's "
                        + "store is not trusted while it is in the cluster";
            }
        }
        if (reason != null && distrusted == null) {
            distrusted = reason;
            log.error("{}", reason);
            distrust.accept(reason);
        } else if (reason == null && distrusted != null) {
            log.warn("every cluster member is a registered Sluice node again");
            distrusted = null;
            trust.run();
        }
    }
}
