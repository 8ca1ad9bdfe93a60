package dev.sluice.worker.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;

import static dev.sluice.worker.cli.FleetJudge.run;

/**
 * A network namespace joined to the host by a veth pair (a random /30 in 10/8: the host's end .1, the namespace's .2),
 * for node processes cut off for real by iptables rules inside it. Needs root (network namespaces, iptables), as on
 * the project's CI machine; {@code deploy/install-deps.sh --for test} (run by {@code bin/test}) installs iproute2
 * and iptables.
 */
final class NetNamespace implements AutoCloseable {
    private final String name;
    private final String hostIf;
    private final String hostIp;
    private final String nsIp;

    private NetNamespace(String name, String hostIf, String hostIp, String nsIp) {
        this.name = name;
        this.hostIf = hostIf;
        this.hostIp = hostIp;
        this.nsIp = nsIp;
    }

    /**
     * Creates the namespace and its veth pair, both named after {@code tag} (at most 4 characters: interface names
     * have 15) and this JVM's pid, on a random /30 of 10.100.0.0 to 10.249.255.255.
     */
    static NetNamespace create(String tag) throws Exception {
        long pid = ProcessHandle.current().pid();
        int m = ThreadLocalRandom.current().nextInt(100, 250);
        int n = ThreadLocalRandom.current().nextInt(1, 250);
        NetNamespace ns = new NetNamespace("sluice-" + tag + "-" + pid, tag + pid % 100_000 + "h",
                "10." + m + "." + n + ".1", "10." + m + "." + n + ".2");
        String nsIf = tag + pid % 100_000 + "n";
        try {
            run("ip", "netns", "add", ns.name);
            run("ip", "link", "add", ns.hostIf, "type", "veth", "peer", "name", nsIf);
            run("ip", "link", "set", nsIf, "netns", ns.name);
            run("ip", "addr", "add", ns.hostIp + "/30", "dev", ns.hostIf);
            run("ip", "link", "set", ns.hostIf, "up");
            ns.exec("ip", "addr", "add", ns.nsIp + "/30", "dev", nsIf);
            ns.exec("ip", "link", "set", nsIf, "up");
            ns.exec("ip", "link", "set", "lo", "up");
            return ns;
        } catch (Exception | Error e) {
            ns.close();
            throw e;
        }
    }

    /** The host's end of the veth pair: where a process in the namespace reaches the host. */
    String hostIp() {
        return hostIp;
    }

    /** The namespace's end of the veth pair. */
    String nsIp() {
        return nsIp;
    }

    /** The command prefix that runs a command in the namespace. */
    List<String> wrapper() {
        return List.of("ip", "netns", "exec", name);
    }

    /** Runs a command in the namespace; fails with its output when it fails. */
    void exec(String... command) throws Exception {
        List<String> all = new ArrayList<>(wrapper());
        all.addAll(List.of(command));
        run(all.toArray(String[]::new));
    }

    /** Drops every TCP segment in the namespace, in and out, whose source or destination port is one of {@code ports}. */
    void dropTcpPorts(List<Integer> ports) throws Exception {
        String list = ports.stream().map(String::valueOf).collect(Collectors.joining(","));
        exec("iptables", "-A", "INPUT", "-p", "tcp", "-m", "multiport", "--ports", list, "-j", "DROP");
        exec("iptables", "-A", "OUTPUT", "-p", "tcp", "-m", "multiport", "--ports", list, "-j", "DROP");
    }

    /** Removes every iptables rule of the namespace: the cut heals. */
    void heal() throws Exception {
        exec("iptables", "-F");
    }

    /** Deletes the veth pair and the namespace (its processes' sockets go with it); reports failures, never throws. */
    @Override
    public void close() {
        for (String[] command : List.of(new String[]{"ip", "link", "del", hostIf}, new String[]{"ip", "netns", "del", name})) {
            try {
                run(command);
            } catch (Exception e) {
                System.err.println("cleanup: " + e.getMessage());
            }
        }
    }
}
