package dev.sluice.testkit;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * Redis in a Docker container via Testcontainers. The host port is fixed when the container is created, and
 * stop/kill/start act on the same container, so a restart keeps the port and the AOF (in the container's
 * filesystem). Without a Docker engine, {@link #start()} aborts the test instead of failing it.
 */
final class ContainerRedis implements RedisServer.Backend {

    private static final int REDIS_PORT = 6379;

    private final RedisServer.Settings settings;
    private GenericContainer<?> container;
    private int hostPort;
    private boolean alive;

    ContainerRedis(RedisServer.Settings settings) {
        this.settings = settings;
    }

    @Override
    public void start() {
        if (container == null) {
            create();
        } else {
            docker().startContainerCmd(container.getContainerId()).exec();
        }
        alive = true;
        RedisServer.awaitPing(this, settings.startupTimeout(), () -> true, () -> "; container " + settings.image());
    }

    private void create() {
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            Assumptions.abort(RedisServer.MODE_ENV + "=container, but no Docker engine answers (Testcontainers found no "
                    + "usable Docker environment), so Redis " + settings.image() + " cannot be started; start Docker, or "
                    + "unset " + RedisServer.MODE_ENV + " to run redis-server locally");
        }
        hostPort = LocalPorts.free();
        int port = hostPort;
        List<String> command = new ArrayList<>(List.of(
                "redis-server",
                "--protected-mode", "no",
                "--save", "",
                "--appendonly", settings.appendOnly() ? "yes" : "no",
                "--appendfsync", settings.appendFsync().argument()));
        command.addAll(settings.extraArgs());
        GenericContainer<?> created = new GenericContainer<>(DockerImageName.parse(settings.image()))
                .withExposedPorts(REDIS_PORT)
                .withCommand(command.toArray(String[]::new))
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withPortBindings(
                        new PortBinding(Ports.Binding.bindPort(port), ExposedPort.tcp(REDIS_PORT))));
        created.start();
        container = created;
    }

    @Override
    public void stop() {
        docker().stopContainerCmd(container.getContainerId()).withTimeout(15).exec();
        alive = false;
    }

    @Override
    public void kill() {
        docker().killContainerCmd(container.getContainerId()).withSignal("KILL").exec();
        alive = false;
    }

    @Override
    public boolean isAlive() {
        return alive;
    }

    @Override
    public String host() {
        return container.getHost();
    }

    @Override
    public int port() {
        return hostPort;
    }

    @Override
    public void close() {
        if (container != null) {
            container.stop();
        }
        alive = false;
    }

    private DockerClient docker() {
        return container.getDockerClient();
    }
}
