package dev.sluice.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

class NodeProcessTest {

    private static final Duration STARTUP = Duration.ofSeconds(30);
    private static final Pattern READY = Pattern.compile("ready pid=(\\d+)");

    @RegisterExtension
    static NodeProcessExtension processes = new NodeProcessExtension();

    @Test
    void awaitLogSeesTheLineTheMainClassPrints() {
        NodeProcess node = processes.start(NodeProcess.forMainClass(SleepyMain.class)
                .args("a", "b")
                .env("SLUICE_GREETING", "hello")
                .maxHeap("64m"));

        String line = node.awaitLog(READY, STARTUP);

        assertThat(line).contains("ready pid=" + node.pid()).contains("args=a,b").contains("SLUICE_GREETING=hello");
        assertThat(Integer.parseInt(line.replaceAll(".*maxHeapMb=(\\d+).*", "$1"))).isLessThanOrEqualTo(64);
        assertThat(node.awaitLog(Pattern.compile("stderr goes"), STARTUP)).isNotEmpty();
        assertThat(node.isAlive()).isTrue();
        assertThat(node.exitCode()).isEmpty();
    }

    @Test
    void killEndsTheProcessWithSigkillAndNoShutdownHook() {
        NodeProcess node = processes.start(NodeProcess.forMainClass(SleepyMain.class));
        node.awaitLog(READY, STARTUP);

        node.kill();

        assertThat(node.isAlive()).isFalse();
        assertThat(node.exitCode()).hasValue(137);
        assertThat(ProcessHandle.of(node.pid()).filter(ProcessHandle::isAlive)).isEmpty();
        assertThat(node.log()).doesNotContain("shutdown hook ran");
    }

    @Test
    void terminateSendsSigtermSoShutdownHooksRun() {
        NodeProcess node = processes.start(NodeProcess.forMainClass(SleepyMain.class));
        node.awaitLog(READY, STARTUP);

        node.terminate();

        assertThat(node.waitFor(Duration.ofSeconds(30))).isEqualTo(143);
        assertThat(node.isAlive()).isFalse();
        assertThat(node.log()).contains("shutdown hook ran");
    }

    @Test
    void awaitLogFailsFastWhenTheProcessExitsWithoutTheLine() {
        NodeProcess node = processes.start(NodeProcess.forMainClass(SleepyMain.class).args("exit"));

        assertThatThrownBy(() -> node.awaitLog(READY, Duration.ofMinutes(5)))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("exited with 3")
                .hasMessageContaining("exiting at once with 3");
        assertThat(node.waitFor(Duration.ofSeconds(5))).isEqualTo(3);
    }

    @Test
    void awaitLogTimesOutWithTheEndOfTheLog() {
        NodeProcess node = processes.start(NodeProcess.forMainClass(SleepyMain.class));
        node.awaitLog(READY, STARTUP);

        assertThatThrownBy(() -> node.awaitLog(Pattern.compile("never printed"), Duration.ofMillis(200)))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("no line matching /never printed/")
                .hasMessageContaining("ready pid=");
    }

    @Test
    void runsAnExecutableJar(@TempDir Path dir) throws IOException {
        Path jar = dir.resolve("sleepy.jar");
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, SleepyMain.class.getName());
        String entry = SleepyMain.class.getName().replace('.', '/') + ".class";
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), manifest);
             InputStream in = SleepyMain.class.getClassLoader().getResourceAsStream(entry)) {
            out.putNextEntry(new JarEntry(entry));
            in.transferTo(out);
            out.closeEntry();
        }

        NodeProcess node = processes.start(NodeProcess.forJar(jar).args("from-jar").workingDir(dir));

        assertThat(node.awaitLog(READY, STARTUP)).contains("args=from-jar");
        assertThat(node.name()).isEqualTo("sleepy.jar");
        assertThat(node.command()).containsSubsequence("-jar", jar.toString(), "from-jar");
    }

    @Test
    void closeKillsAProcessStillRunningAndDeletesItsLog() {
        NodeProcess node = NodeProcess.forMainClass(SleepyMain.class).start();
        try (node) {
            node.awaitLog(READY, STARTUP);
        }

        assertThat(node.isAlive()).isFalse();
        assertThat(node.logFile()).doesNotExist();
    }
}
