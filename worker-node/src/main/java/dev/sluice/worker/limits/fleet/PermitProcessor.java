package dev.sluice.worker.limits.fleet;

import com.hazelcast.map.EntryProcessor;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializableFactory;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;

import java.io.IOException;
import java.io.Serial;
import java.util.List;
import java.util.Map;

/**
 * The only way the fleet {@link PermitTable} changes: one operation per entry processor, run on the partition
 * owner of the table's entry with that member's wall clock, so every node's permits and pauses are timed by one
 * clock. The owner sends its backups the resulting bytes ({@link StoreBytes}), never the operation, so a backup
 * cannot come to a different result with its own clock.
 */
final class PermitProcessor implements EntryProcessor<String, byte[], Object>, IdentifiedDataSerializable {
    @Serial
    private static final long serialVersionUID = 1L;

    static final int FACTORY_ID = 0x51_1C_E0;
    static final int PROCESSOR = 1;
    static final int STORE_BYTES = 2;
    static final int BATCH_REPLY = 3;

    enum Op { ACQUIRE, RENEW, RELEASE, CANCEL, PAUSE, INSPECT, PROBE, BATCH }

    /** One waiter's operation in a {@link #batch}: ACQUIRE, RENEW, RELEASE or CANCEL of permit {@code id}. */
    record Step(Op op, String id, long millis) implements java.io.Serializable {
    }

    private Op op;
    private String id = "";
    private String holder = "";
    private int limit;
    private long limitsVersion;
    private long millis;
    private long ticketTtlMs;
    private Step[] steps = new Step[0];
    private transient byte[] written;

    /** For deserialization. */
    PermitProcessor() {
    }

    private PermitProcessor(Op op, String id, String holder, int limit, long millis, long ticketTtlMs) {
        this.op = op;
        this.id = id;
        this.holder = holder;
        this.limit = limit;
        this.millis = millis;
        this.ticketTtlMs = ticketTtlMs;
    }





    static PermitProcessor pause(long pauseMs) {
        return new PermitProcessor(Op.PAUSE, "", "", 0, pauseMs, 0);
    }

    /**
     * The operations of one node's waiters since its last store call, applied in order to one reading of the
     * table: {@code holder} asks for ACQUIRE steps (lease {@code millis}), RENEW steps start the lease again for
     * {@code millis}. Answered with a {@link BatchReply}. The batch carries the holder's view of the in-flight
     * limit ({@code limit} as of the fleet's limits {@code limitsVersion}); the table keeps the newest it was told of
     * and grants by it, so a node that has not heard of a change yet never grants by the old limit for the others.
     */
    static PermitProcessor batch(List<Step> steps, String holder, long limitsVersion, int limit, long ticketTtlMs) {
        PermitProcessor p = new PermitProcessor(Op.BATCH, "", holder, limit, 0, ticketTtlMs);
        p.limitsVersion = limitsVersion;
        p.steps = steps.toArray(Step[]::new);
        return p;
    }

    static PermitProcessor inspect() {
        return new PermitProcessor(Op.INSPECT, "", "", 0, 0, 0);
    }

    static PermitProcessor probe() {
        return new PermitProcessor(Op.PROBE, "", "", 0, 0, 0);
    }

    /**
     * @return PAUSE: the pause end; INSPECT: the table's bytes; PROBE: the owner's time; BATCH: a {@link BatchReply}
     */
    @Override
    public Object process(Map.Entry<String, byte[]> entry) {
        long now = System.currentTimeMillis(); // the owner's clock: the one clock of the fleet's permits
        written = null;
        PermitTable table = PermitTable.decode(entry.getValue());
        boolean changed = table.expire(now);
        Object result;
        switch (op) {
            case PAUSE -> {
                table.pauseUntil(now + millis);
                result = table.pausedUntilMs();
                changed = true;
            }
            case BATCH -> {
                int limit = table.limit(limitsVersion, this.limit);
                long[] replies = new long[4 * steps.length];
                boolean released = false;
                for (int i = 0; i < steps.length; i++) {
                    Step step = steps[i];
                    PermitTable.Reply reply = switch (step.op()) {
                        case ACQUIRE -> table.acquire(step.id(), holder, limit, step.millis(), ticketTtlMs, now);
                        case RENEW -> table.renew(step.id(), step.millis(), now);
                        case RELEASE -> {
                            released |= table.release(step.id(), limit, now) != null;
                            yield null;
                        }
                        case CANCEL -> {
                            table.cancel(step.id());
                            yield null;
                        }
                        default -> throw new IllegalStateException("not a batch step: " + step.op());
                    };
                    if (reply != null) {
                        System.arraycopy(reply.toWire(), 0, replies, 4 * i, 4);
                    }
                }
                int[] demand = table.demand(holder, limit);
                result = new BatchReply(replies, released ? table.eligible(limit).toArray(String[]::new) : new String[0],
                        demand[0], demand[1], demand[2]);
                changed = true;
            }
            case INSPECT -> result = table.encode();
            case PROBE -> result = now;
            default -> throw new IllegalStateException("unknown permit operation " + op);
        }
        if (changed) {
            written = table.encode();
            entry.setValue(written);
        }
        return result;
    }

    @Override
    public EntryProcessor<String, byte[], Object> getBackupProcessor() {
        return written == null ? null : new StoreBytes(written);
    }

    @Override
    public int getFactoryId() {
        return FACTORY_ID;
    }

    @Override
    public int getClassId() {
        return PROCESSOR;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
        out.writeByte(op.ordinal());
        out.writeString(id);
        out.writeString(holder);
        out.writeInt(limit);
        out.writeLong(limitsVersion);
        out.writeLong(millis);
        out.writeLong(ticketTtlMs);
        if (op == Op.BATCH) {
            out.writeInt(steps.length);
            for (Step step : steps) {
                out.writeByte(step.op().ordinal());
                out.writeString(step.id());
                out.writeLong(step.millis());
            }
        }
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
        op = Op.values()[in.readByte()];
        id = in.readString();
        holder = in.readString();
        limit = in.readInt();
        limitsVersion = in.readLong();
        millis = in.readLong();
        ticketTtlMs = in.readLong();
        if (op == Op.BATCH) {
            steps = new Step[in.readInt()];
            for (int i = 0; i < steps.length; i++) {
                steps[i] = new Step(Op.values()[in.readByte()], in.readString(), in.readLong());
            }
        }
    }

    /** Writes the owner's result to a backup replica. */
    static final class StoreBytes implements EntryProcessor<String, byte[], Object>, IdentifiedDataSerializable {
        @Serial
        private static final long serialVersionUID = 1L;

        private byte[] bytes;

        StoreBytes() {
        }

        StoreBytes(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public Object process(Map.Entry<String, byte[]> entry) {
            entry.setValue(bytes);
            return null;
        }

        @Override
        public int getFactoryId() {
            return FACTORY_ID;
        }

        @Override
        public int getClassId() {
            return STORE_BYTES;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeByteArray(bytes);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            bytes = in.readByteArray();
        }
    }

    /**
     * What a {@link #batch} came to: four longs per step ({@link PermitTable.Reply#toWire()}, zeros for RELEASE and
     * CANCEL), when a permit was released the waiters that may now take one, and the table's demand after the batch:
     * the distinct holders of leases or tickets, the tickets of other holders than the batch's, and the permits free.
     */
    static final class BatchReply implements IdentifiedDataSerializable {
        private long[] replies;
        private String[] wake;
        private int holders;
        private int othersWaiting;
        private int free;

        BatchReply() {
        }

        BatchReply(long[] replies, String[] wake, int holders, int othersWaiting, int free) {
            this.replies = replies;
            this.wake = wake;
            this.holders = holders;
            this.othersWaiting = othersWaiting;
            this.free = free;
        }

        int free() {
            return free;
        }

        int holders() {
            return holders;
        }

        int othersWaiting() {
            return othersWaiting;
        }

        long[] reply(int step) {
            return java.util.Arrays.copyOfRange(replies, 4 * step, 4 * step + 4);
        }

        String[] wake() {
            return wake;
        }

        @Override
        public int getFactoryId() {
            return FACTORY_ID;
        }

        @Override
        public int getClassId() {
            return BATCH_REPLY;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeLongArray(replies);
            out.writeStringArray(wake);
            out.writeInt(holders);
            out.writeInt(othersWaiting);
            out.writeInt(free);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            replies = in.readLongArray();
            wake = in.readStringArray();
            holders = in.readInt();
            othersWaiting = in.readInt();
            free = in.readInt();
        }
    }

    /** Registered on every member (see {@link FleetHubLimiter#configure}). */
    static final class Factory implements DataSerializableFactory {
        @Override
        public IdentifiedDataSerializable create(int classId) {
            return switch (classId) {
                case PROCESSOR -> new PermitProcessor();
                case STORE_BYTES -> new StoreBytes();
                case BATCH_REPLY -> new BatchReply();
                default -> throw new IllegalArgumentException("no permit processor with class id " + classId);
            };
        }
    }
}
