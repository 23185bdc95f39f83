#include "tdxkit/collateral.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/read_file.hpp"
#include "crypto/ossl.hpp"
#include "pcs/collateral_json.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The members of a QuoteCollateralV3 bundle (dcap-qvl's JSON form), as collateral_to_json writes them.
constexpr std::array<std::string_view, 10> kBundleMembers{
    "pck_crl_issuer_chain",     "root_ca_crl", "pck_crl",
    "tcb_info_issuer_chain",    "tcb_info",    "tcb_info_signature",
    "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature",
    "pck_certificate_chain"};

// Collateral files are a few kilobytes; a PCK CRL with many entries stays well under this.
constexpr std::uintmax_t kMaxCollateralFile = 4 * 1024 * 1024;

// Locates the raw text of top-level members of a JSON object without re-serializing anything:
// signatures are over the exact bytes Intel produced.
class MemberScanner {
public:
    MemberScanner(std::string_view text, std::string_view what) : text_(text), what_(what) {}

    // Calls visit(key, raw_value_text) for each top-level member.
    template <class Visit>
    void scan(Visit&& visit) {
        skip_ws();
        expect('{');
        skip_ws();
        if (peek() == '}') {
            ++pos_;
            finish();
            return;
        }
        while (true) {
            skip_ws();
            const auto key = string_token();
            skip_ws();
            expect(':');
            skip_ws();
            const auto start = pos_;
            skip_value();
            visit(key, text_.substr(start, pos_ - start));
            skip_ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            expect('}');
            break;
        }
        finish();
    }

private:
    [[noreturn]] void fail(std::string_view why) const {
        throw Error(Errc::malformed, fmt::format("{} at offset {}: {}", what_, pos_, why));
    }
    char peek() const {
        if (pos_ >= text_.size()) fail("unexpected end of JSON");
        return text_[pos_];
    }
    void expect(char c) {
        if (peek() != c) fail(fmt::format("expected '{}'", c));
        ++pos_;
    }
    void skip_ws() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }
    void finish() {
        skip_ws();
        if (pos_ != text_.size()) fail("trailing characters after the JSON object");
    }
    // Returns the raw key text between the quotes; keys that matter here contain no escapes.
    std::string string_token() {
        expect('"');
        const auto start = pos_;
        while (peek() != '"') {
            if (text_[pos_] == '\\') ++pos_;
            ++pos_;
        }
        auto out = std::string(text_.substr(start, pos_ - start));
        ++pos_;
        return out;
    }
    void skip_value() {
        const char c = peek();
        if (c == '"') {
            (void)string_token();
            return;
        }
        if (c == '{' || c == '[') {
            int depth = 0;
            do {
                const char d = peek();
                if (d == '"') {
                    (void)string_token();
                    continue;
                }
                if (d == '{' || d == '[') ++depth;
                if (d == '}' || d == ']') --depth;
                ++pos_;
            } while (depth > 0);
            return;
        }
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' && text_[pos_] != ']' &&
               text_[pos_] != ' ' && text_[pos_] != '\n' && text_[pos_] != '\r' && text_[pos_] != '\t') {
            ++pos_;
        }
    }

    std::string_view text_;
    std::string_view what_;
    std::size_t pos_ = 0;
};

Bytes read_file(const fs::path& path) { return detail::read_file_bounded(path, kMaxCollateralFile); }

std::string read_text(const fs::path& path) {
    const auto b = read_file(path);
    return std::string(b.begin(), b.end());
}

// The first of the candidate names that exists in dir.
std::optional<fs::path> find_item(const fs::path& dir, std::initializer_list<std::string_view> names) {
    for (const auto name : names) {
        auto p = dir / name;
        std::error_code ec;  // unreadable counts as absent: the caller names what it needed
        if (fs::exists(p, ec)) return p;
    }
    return std::nullopt;
}

fs::path require_item(const fs::path& dir, std::initializer_list<std::string_view> names, std::string_view what) {
    if (auto p = find_item(dir, names)) return *p;
    throw Error(Errc::collateral_unavailable,
                fmt::format("collateral directory {} has no {} (expected {})", dir.string(), what,
                            fmt::join(names.begin(), names.end(), " or ")));
}

Collateral load_directory(const fs::path& dir) {
    Collateral c;
    const auto tcb =
        extract_signed_body(read_text(require_item(dir, {"tcb_info.json", "tcbinfo.json"}, "TCB Info")), "tcbInfo");
    c.tcb_info = tcb.body;
    c.tcb_info_signature = tcb.signature;
    const auto qe = extract_signed_body(
        read_text(require_item(dir, {"qe_identity.json", "qeidentity.json"}, "QE Identity")), "enclaveIdentity");
    c.qe_identity = qe.body;
    c.qe_identity_signature = qe.signature;
    c.tcb_info_issuer_chain = read_text(require_item(dir, {"tcb_info_issuer_chain.pem"}, "TCB Info issuer chain"));
    c.qe_identity_issuer_chain =
        read_text(require_item(dir, {"qe_identity_issuer_chain.pem"}, "QE Identity issuer chain"));
    c.pck_crl_issuer_chain = read_text(require_item(dir, {"pck_crl_issuer_chain.pem"}, "PCK CRL issuer chain"));
    const auto pck_crl = require_item(dir, {"pck_crl.der", "pck_crl.pem", "pck_crl.hex", "pck_crl"}, "PCK CRL");
    c.pck_crl = normalize_crl(read_file(pck_crl), pck_crl.string());
    const auto root_crl =
        require_item(dir, {"root_ca_crl.der", "root_ca_crl.pem", "root_ca_crl.hex", "root_ca_crl"}, "root CA CRL");
    c.root_ca_crl = normalize_crl(read_file(root_crl), root_crl.string());
    if (const auto chain = find_item(dir, {"pck_certificate_chain.pem"})) c.pck_certificate_chain = read_text(*chain);
    c.source = fmt::format("directory {}", dir.string());
    return c;
}

std::string required_string(const json& doc, const char* key, std::string_view what) {
    const auto it = doc.find(key);
    if (it == doc.end()) {
        throw Error(Errc::collateral_unavailable, fmt::format("{}: field \"{}\" is missing", what, key));
    }
    if (!it->is_string()) throw Error(Errc::malformed, fmt::format("{}: field \"{}\" is not a string", what, key));
    return it->get<std::string>();
}

Bytes signature_bytes(std::string_view hex, std::string_view what) {
    auto sig = from_hex(hex, what);
    if (sig.size() != 64) {
        throw Error(Errc::malformed, fmt::format("{}: signature is {} bytes, expected 64 (r||s)", what, sig.size()));
    }
    return sig;
}

}  // namespace

SignedJsonBody extract_signed_body(std::string_view document, std::string_view member) {
    const auto what = fmt::format("{} document", member);
    std::optional<std::string> body;
    std::optional<std::string> signature;
    MemberScanner{document, what}.scan([&](const std::string& key, std::string_view raw) {
        if (key == member || key == "signature") {
            auto& slot = key == member ? body : signature;
            // Two copies of a signed member would let the checked and the used copy differ.
            if (slot) throw Error(Errc::malformed, fmt::format("{}: member \"{}\" appears twice", what, key));
            slot = std::string(raw);
        }
    });
    if (!body) throw Error(Errc::malformed, fmt::format("{}: no \"{}\" member", what, member));
    if (!signature) throw Error(Errc::malformed, fmt::format("{}: no \"signature\" member", what));
    // The scanner only delimits; a full parse proves both parts are well-formed JSON.
    const auto parsed_body = detail::parse_json(*body, fmt::format("{} \"{}\"", what, member));
    const auto parsed_sig = detail::parse_json(*signature, fmt::format("{} \"signature\"", what));
    if (!parsed_body.is_object())
        throw Error(Errc::malformed, fmt::format("{}: \"{}\" is not an object", what, member));
    if (!parsed_sig.is_string()) throw Error(Errc::malformed, fmt::format("{}: \"signature\" is not a string", what));
    return SignedJsonBody{*body, signature_bytes(parsed_sig.get<std::string>(), what)};
}

Bytes normalize_crl(ByteSpan data, std::string_view what) {
    const std::string_view text{reinterpret_cast<const char*>(data.data()), data.size()};
    ossl::X509CrlPtr crl;
    if (text.find("-----BEGIN X509 CRL-----") != std::string_view::npos) {
        crl = ossl::parse_pem_crl(text, what);
    } else if (!data.empty() && data[0] == 0x30) {
        crl = ossl::parse_der_crl(data, what);
    } else {
        crl = ossl::parse_der_crl(from_hex(text, what), what);
    }
    unsigned char* buf = nullptr;
    const int len = i2d_X509_CRL(crl.get(), &buf);
    if (len <= 0) ossl::fail("i2d_X509_CRL");
    Bytes out(buf, buf + len);
    OPENSSL_free(buf);
    return out;
}

Collateral collateral_from_json(std::string_view json_text, std::string_view what) {
    return pcs::collateral_from_document(detail::parse_json(json_text, what), what);
}

Collateral pcs::collateral_from_document(const nlohmann::json& doc, std::string_view what) {
    if (!doc.is_object()) throw Error(Errc::malformed, fmt::format("{}: not a JSON object", what));
    // A member tdxkit does not know could be one another verifier acts on: refuse rather than ignore.
    for (const auto& [key, value] : doc.items()) {
        if (std::find(kBundleMembers.begin(), kBundleMembers.end(), key) == kBundleMembers.end()) {
            throw Error(Errc::malformed, fmt::format("{}: unknown member \"{:.40}\" (known: {})", what, key,
                                                     fmt::join(kBundleMembers, ", ")));
        }
    }
    Collateral c;
    c.pck_crl_issuer_chain = required_string(doc, "pck_crl_issuer_chain", what);
    c.root_ca_crl = normalize_crl(as_bytes(required_string(doc, "root_ca_crl", what)), "root_ca_crl");
    c.pck_crl = normalize_crl(as_bytes(required_string(doc, "pck_crl", what)), "pck_crl");
    c.tcb_info_issuer_chain = required_string(doc, "tcb_info_issuer_chain", what);
    c.tcb_info = required_string(doc, "tcb_info", what);
    c.tcb_info_signature = signature_bytes(required_string(doc, "tcb_info_signature", what), "tcb_info_signature");
    c.qe_identity_issuer_chain = required_string(doc, "qe_identity_issuer_chain", what);
    c.qe_identity = required_string(doc, "qe_identity", what);
    c.qe_identity_signature =
        signature_bytes(required_string(doc, "qe_identity_signature", what), "qe_identity_signature");
    if (doc.contains("pck_certificate_chain")) {
        c.pck_certificate_chain = required_string(doc, "pck_certificate_chain", what);
    }
    c.source = std::string(what);
    return c;
}

std::string collateral_to_json(const Collateral& c) {
    json doc{{"pck_crl_issuer_chain", c.pck_crl_issuer_chain},
             {"root_ca_crl", to_hex(c.root_ca_crl)},
             {"pck_crl", to_hex(c.pck_crl)},
             {"tcb_info_issuer_chain", c.tcb_info_issuer_chain},
             {"tcb_info", c.tcb_info},
             {"tcb_info_signature", to_hex(c.tcb_info_signature)},
             {"qe_identity_issuer_chain", c.qe_identity_issuer_chain},
             {"qe_identity", c.qe_identity},
             {"qe_identity_signature", to_hex(c.qe_identity_signature)}};
    if (c.pck_certificate_chain) doc["pck_certificate_chain"] = *c.pck_certificate_chain;
    try {
        return doc.dump(2) + "\n";
    } catch (const json::type_error&) {
        // Text a server sent outside the PEM blocks of an issuer chain can be any bytes; such a set
        // is not stored (and does not verify as sent either way).
        throw Error(Errc::malformed, "collateral holds text that is not valid UTF-8; it cannot be written as JSON");
    }
}

Collateral load_collateral(const std::string& path) {
    const fs::path p{path};
    std::error_code ec;
    if (fs::is_directory(p, ec)) return load_directory(p);
    if (!fs::exists(p, ec)) {
        throw Error(Errc::collateral_unavailable, fmt::format("collateral {} does not exist", path));
    }
    return collateral_from_json(read_text(p), fmt::format("collateral bundle {}", path));
}

}  // namespace tdxkit
