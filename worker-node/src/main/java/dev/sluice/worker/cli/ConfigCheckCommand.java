package dev.sluice.worker.cli;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.ConfigView;
import dev.sluice.common.config.SluiceConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code sluice config check}: loads and validates the configuration as a node would and prints the effective
 * values as TOML, secrets hidden, after comment lines naming the {@code SLUICE_} environment variables taken as
 * overrides and those ignored (see {@link ConfigLoader}). A problem ends it with status 78 and the message naming
 * key, value and rule.
 */
@Command(name = "check", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Validates the configuration (file plus SLUICE_* environment overrides) and prints the "
                + "effective values, secrets hidden.")
final class ConfigCheckCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions options;

    @Spec
    CommandSpec spec;

    private final CliContext context;

    ConfigCheckCommand(CliContext context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        SluiceConfig config = options.load(context.env());
        PrintWriter out = spec.commandLine().getOut();
        out.println("# configuration OK: " + options.source());
        ConfigLoader.EnvironmentVariables variables = ConfigLoader.environment(context.env());
        printNames(out, "environment overrides", variables.overrides());
        printNames(out, "ignored environment variables", variables.ignored());
        printNames(out, "ignored Kubernetes service links", variables.serviceLinks());
        for (Map.Entry<String, Map<String, Object>> section : ConfigView.redacted(config).entrySet()) {
            out.println();
            out.println("[" + section.getKey() + "]");
            section.getValue().forEach((key, value) -> out.println(key + " = " + toml(value)));
        }
        out.flush();
        return ExitCodes.OK;
    }

    /** One comment line naming variables, never their values (ignored ones may hold anything). */
    private static void printNames(PrintWriter out, String what, Set<String> names) {
        if (!names.isEmpty()) {
            out.println("# " + what + ": " + String.join(", ", names));
        }
    }

    static String toml(Object value) {
        return switch (value) {
            case null -> "\"\"";
            case String s -> quote(s);
            case Number n -> n.toString();
            case Boolean b -> b.toString();
            case List<?> list -> list.stream().map(ConfigCheckCommand::toml).collect(Collectors.joining(", ", "[", "]"));
            case Map<?, ?> map -> map.entrySet().stream()
                    .map(e -> quote(String.valueOf(e.getKey())) + " = " + toml(e.getValue()))
                    .collect(Collectors.joining(", ", "{ ", " }"))
                    .replace("{  }", "{}");
            default -> quote(value.toString());
        };
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
