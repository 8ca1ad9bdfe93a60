package dev.sluice.common.config;

/** Prints the default node id of a fresh process; used by {@link ConfigLoaderTest}. */
final class PrintNodeId {
    private PrintNodeId() {
    }

    public static void main(String[] args) {
        System.out.println(SluiceConfig.ofDefaults().node().id());
    }
}
