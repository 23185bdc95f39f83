#include "core/json_writer.hpp"

#include <nlohmann/json.hpp>

#include "core/json_scan.hpp"
#include "core/utf8.hpp"

namespace tdxkit::detail {

void append_json_string(std::string& out, std::string_view text) {
    // Only what nlohmann writes unchanged takes the fast path: bytes that need no escape and
    // well-formed UTF-8 (ensure_ascii is off). Anything else is left to nlohmann itself.
    for (std::size_t i = plain_json_run_end(text, 0); i < text.size(); i = plain_json_run_end(text, i)) {
        const std::size_t sequence = utf8_sequence(text.substr(i));
        if (sequence == 0) {
            out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            return;
        }
        i += sequence;
    }
    out.reserve(out.size() + text.size() + 2);
    out += '"';
    out += text;
    out += '"';
}

void JsonWriter::new_line() {
    if (indent_ < 0) return;
    out_ += '\n';
    out_.append(has_members_.size() * static_cast<std::size_t>(indent_), ' ');
}

void JsonWriter::element() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (has_members_.empty()) return;  // the document itself
    if (has_members_.back()) out_ += ',';
    has_members_.back() = true;
    new_line();
}

void JsonWriter::key(std::string_view name) {
    element();
    out_ += '"';
    out_ += name;
    out_ += indent_ < 0 ? "\":" : "\": ";
    after_key_ = true;
}

void JsonWriter::open(char bracket) {
    element();
    out_ += bracket;
    has_members_.push_back(false);
}

void JsonWriter::close(char bracket) {
    const bool had_members = has_members_.back();
    has_members_.pop_back();
    if (had_members) new_line();
    out_ += bracket;
}

}  // namespace tdxkit::detail
