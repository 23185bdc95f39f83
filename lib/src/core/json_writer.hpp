#pragma once

// JSON written straight into a string, for the documents tdxkit prints once per quote or request
// (tdxkit.verify/v1, the summary line). Building an nlohmann::json tree, sorting it and dumping it
// cost a third of a service request; this writes the same bytes without the tree.
//
// The output is byte for byte what nlohmann's dump(indent, ' ', false, error_handler_t::replace)
// gives for the same document, on two conditions the caller keeps:
// - members are written in nlohmann's order, which is std::map's: keys sorted bytewise;
// - keys are plain ASCII that needs no escaping (they are the schema's names).
// tests/unit/report_test.cpp checks the writer and whole rendered documents against dump().

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tdxkit::detail {

// Appends `text` as a JSON string as nlohmann's dump writes it (ensure_ascii off, invalid UTF-8
// replaced by U+FFFD). Text that needs no escape and is well-formed UTF-8 (hex, names, most details)
// is copied; anything else goes through nlohmann's own escaping so that both always agree.
void append_json_string(std::string& out, std::string_view text);

class JsonWriter {
public:
    // indent < 0: compact, as dump(-1); otherwise one member per line, indented by `indent` spaces.
    JsonWriter(std::string& out, int indent) : out_(out), indent_(indent) {}

    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }

    // The next member's name, inside an object; its value follows with one of the calls below.
    void key(std::string_view name);

    void string(std::string_view text) {
        element();
        append_json_string(out_, text);
    }
    void boolean(bool value) {
        element();
        out_ += value ? "true" : "false";
    }
    void null() {
        element();
        out_ += "null";
    }
    template <std::integral T>
    requires(!std::same_as<T, bool>) void number(T value) {
        element();
        out_ += std::to_string(value);
    }
    // Already valid JSON (a scalar the caller produced): inserted as it is.
    void raw(std::string_view json) {
        element();
        out_ += json;
    }
    void strings(const std::vector<std::string>& values) {
        begin_array();
        for (const auto& v : values) string(v);
        end_array();
    }

private:
    void open(char bracket);
    void close(char bracket);
    // Before a value: its separator and line, unless a key has just placed it.
    void element();
    void new_line();

    std::string& out_;
    int indent_;
    std::vector<bool> has_members_;  // per open container
    bool after_key_ = false;
};

}  // namespace tdxkit::detail
