package dev.sluice.worker.limits;

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

    enum Op { ACQUIRE, RENEW, RELEASE, CANCEL, PAUSE, INSPECT, PROBE }

    private Op op;
    private String id = "";
    private String holder = "";
    private int limit;
    private long millis;
    private long ticketTtlMs;
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

    static PermitProcessor acquire(String id, String holder, int limit, long leaseMs, long ticketTtlMs) {
        return new PermitProcessor(Op.ACQUIRE, id, holder, limit, leaseMs, ticketTtlMs);
    }

    static PermitProcessor renew(String id, long leaseMs) {
        return new PermitProcessor(Op.RENEW, id, "", 0, leaseMs, 0);
    }

    static PermitProcessor release(String id, int limit) {
        return new PermitProcessor(Op.RELEASE, id, "", limit, 0, 0);
    }

    static PermitProcessor cancel(String id) {
        return new PermitProcessor(Op.CANCEL, id, "", 0, 0, 0);
    }

    static PermitProcessor pause(long pauseMs) {
        return new PermitProcessor(Op.PAUSE, "", "", 0, pauseMs, 0);
    }

    static PermitProcessor inspect() {
        return new PermitProcessor(Op.INSPECT, "", "", 0, 0, 0);
    }

    static PermitProcessor probe() {
        return new PermitProcessor(Op.PROBE, "", "", 0, 0, 0);
    }

    /**
     * @return ACQUIRE, RENEW: {@link PermitTable.Reply#toWire()}; RELEASE: the ids of waiters that may now take a
     * permit ({@code String[]}, empty), or null when the permit was no longer held; CANCEL: null; PAUSE: the
     * pause end; INSPECT: the table's bytes; PROBE: the owner's time
     */
    @Override
    public Object process(Map.Entry<String, byte[]> entry) {
        long now = System.currentTimeMillis(); // the owner's clock: the one clock of the fleet's permits
        written = null;
        PermitTable table = PermitTable.decode(entry.getValue());
        boolean changed = table.expire(now);
        Object result;
        switch (op) {
            case ACQUIRE -> {
                result = table.acquire(id, holder, limit, millis, ticketTtlMs, now).toWire();
                changed = true;
            }
            case RENEW -> {
                PermitTable.Reply reply = table.renew(id, millis, now);
                result = reply.toWire();
                changed |= reply.state() == PermitTable.State.RENEWED;
            }
            case RELEASE -> {
                List<String> eligible = table.release(id, limit, now);
                result = eligible == null ? null : eligible.toArray(String[]::new);
                changed |= eligible != null;
            }
            case CANCEL -> {
                changed |= table.cancel(id);
                result = null;
            }
            case PAUSE -> {
                table.pauseUntil(now + millis);
                result = table.pausedUntilMs();
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
        out.writeLong(millis);
        out.writeLong(ticketTtlMs);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
        op = Op.values()[in.readByte()];
        id = in.readString();
        holder = in.readString();
        limit = in.readInt();
        millis = in.readLong();
        ticketTtlMs = in.readLong();
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

    /** Registered on every member (see {@link FleetHubLimiter#configure}). */
    static final class Factory implements DataSerializableFactory {
        @Override
        public IdentifiedDataSerializable create(int classId) {
            return switch (classId) {
                case PROCESSOR -> new PermitProcessor();
                case STORE_BYTES -> new StoreBytes();
                default -> throw new IllegalArgumentException("no permit processor with class id " + classId);
            };
        }
    }
}
