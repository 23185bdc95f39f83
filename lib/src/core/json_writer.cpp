#include "core/json_writer.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace tdxkit::detail {

void append_json_string(std::string& out, std::string_view text) {
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
    });
    if (!plain) {
        out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return;
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
