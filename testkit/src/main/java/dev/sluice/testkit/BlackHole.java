package dev.sluice.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP server on 127.0.0.1 that accepts every connection and never sends a byte: a client's read or request
 * timeout is the only way out. {@link #closedPort()} is the other classic fault, a port nobody listens on.
 */
public final class BlackHole implements AutoCloseable {
    private final ServerSocket server;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();

    public BlackHole() {
        try {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException("could not open a black-hole server on 127.0.0.1", e);
        }
        Thread.ofVirtual().name("black-hole-" + server.getLocalPort()).start(() -> {
            while (!server.isClosed()) {
                try {
                    accepted.add(server.accept());
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    public int port() {
        return server.getLocalPort();
    }

    /** A port on 127.0.0.1 that nothing listens on at the moment of asking: connecting to it is refused. */
    public static int closedPort() {
        return LocalPorts.free();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : accepted) {
            s.close();
        }
    }
}
