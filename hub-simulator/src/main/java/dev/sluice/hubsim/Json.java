package dev.sluice.hubsim;

/** Writes the few JSON values the simulator sends that are not plain numbers or booleans. */
final class Json {
    private Json() {
    }

    /** The text as a JSON string literal, quotes included. */
    static String string(String text) {
        var json = new StringBuilder(text.length() + 2).append('"');
        for (var i = 0; i < text.length(); i++) {
            var c = text.charAt(i);
            switch (c) {
                case '"' -> json.append("\\\"");
                case '\\' -> json.append("\\\\");
                case '\n' -> json.append("\\n");
                case '\r' -> json.append("\\r");
                case '\t' -> json.append("\\t");
                default -> {
                    if (c < 0x20) {
                        json.append(String.format("\\u%04x", (int) c));
                    } else {
                        json.append(c);
                    }
                }
            }
        }
        return json.append('"').toString();
    }

    /** An error document: {@code {"error":"<message>"}}. */
    static String error(String message) {
        return "{\"error\":" + string(message) + "}";
    }
}
