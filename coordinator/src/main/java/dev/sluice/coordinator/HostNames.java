package dev.sluice.coordinator;

import dev.sluice.common.config.SluiceConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/** The coordinator's own names: those a request's Host may carry, and the URL Alertmanager links back to. */
final class HostNames {
    private static final Logger log = LoggerFactory.getLogger(HostNames.class);

    private HostNames() {
    }

    /**
     * The names a request's Host may carry: {@code coordinator.hostnames}, the loopback names, the bind address, this
     * host's name and addresses, and {@code external_url}'s host.
     */
    static Set<String> of(SluiceConfig config) {
        Set<String> names = new TreeSet<>();
        config.coordinator().hostnames().forEach(h -> names.add(h.toLowerCase(Locale.ROOT)));
        names.addAll(List.of("localhost", "127.0.0.1", "[::1]"));
        String bind = config.metrics().bind();
        if (!bind.equals("0.0.0.0") && !bind.equals("::")) {
            names.add(bind.contains(":") ? "[" + bind + "]" : bind);
        }
        try {
            names.add(InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT));
            for (var nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (var a : Collections.list(nic.getInetAddresses())) {
                    String h = a.getHostAddress();
                    int scope = h.indexOf('%');
                    h = scope >= 0 ? h.substring(0, scope) : h;
                    names.add(h.contains(":") ? "[" + h + "]" : h);
                }
            }
        } catch (IOException e) {
            log.debug("could not list this host's names", e);
        }
        if (config.coordinator().externalUrl() != null && config.coordinator().externalUrl().getHost() != null) {
            names.add(config.coordinator().externalUrl().getHost().toLowerCase(Locale.ROOT));
        }
        return names;
    }

    /** Where Alertmanager links back to: {@code external_url}, else this host's name and the admin port. */
    static URI externalUrl(SluiceConfig config, String serverHost, int port) {
        if (config.coordinator().externalUrl() != null) {
            return config.coordinator().externalUrl();
        }
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = serverHost;
        }
        return URI.create("http://" + host + ":" + port);
    }
}
