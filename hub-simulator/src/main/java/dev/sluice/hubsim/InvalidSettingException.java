package dev.sluice.hubsim;

/**
 * A setting given a value outside its rule. The message names the setting, the rule and the value, e.g.
 * {@code errorRate must be between 0.0 and 1.0, but was 2.0}; the parts are kept apart so that the command line
 * can name its flag instead of the setting.
 */
final class InvalidSettingException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String setting;
    private final String rule;
    private final String value;

    InvalidSettingException(String setting, String rule, Object value) {
        super(setting + " " + rule + ", but was " + value);
        this.setting = setting;
        this.rule = rule;
        this.value = String.valueOf(value);
    }

    static long requireBetween(String setting, long value, long min, long max) {
        if (value < min || value > max) {
            throw new InvalidSettingException(setting, "must be between " + min + " and " + max, value);
        }
        return value;
    }

    static int requireAtLeast(String setting, int value, int min) {
        if (value < min) {
            throw new InvalidSettingException(setting, "must be at least " + min, value);
        }
        return value;
    }

    static int requireBetween(String setting, int value, int min, int max) {
        return (int) requireBetween(setting, (long) value, min, max);
    }

    static double requireBetween(String setting, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new InvalidSettingException(setting, "must be between " + min + " and " + max, value);
        }
        return value;
    }

    /** The name of the setting as the API that rejected it spells it. */
    String setting() {
        return setting;
    }

    /** What is allowed, e.g. {@code must be between 0 and 65535}. */
    String rule() {
        return rule;
    }

    /** The rejected value, as text. */
    String value() {
        return value;
    }
}
