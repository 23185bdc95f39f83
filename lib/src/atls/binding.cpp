// The two bindings of attested TLS: the session's EKM into the quote's report data, and the
// certificate into the event log. Both compare in constant time.

#include <algorithm>

#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <fmt/format.h>

#include "crypto/ossl.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::atls {

Octets<64> session_report_data(ByteSpan nonce, ByteSpan ekm) {
    Bytes preimage(nonce.begin(), nonce.end());
    preimage.insert(preimage.end(), ekm.begin(), ekm.end());
    return sha512(preimage);
}

namespace {

Octets<32> hmac_sha256(ByteSpan key, ByteSpan data) {
    Octets<32> mac{};
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac.data(), &len) ==
            nullptr ||
        len != mac.size()) {
        ossl::fail("HMAC-SHA256");
    }
    return mac;
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string ekm_header_value(ByteSpan ekm, ByteSpan hmac_key) {
    return fmt::format("{}:{}", to_hex(ekm), to_hex(hmac_sha256(hmac_key, ekm)));
}

Bytes check_ekm_header(std::string_view value, ByteSpan hmac_key) {
    // shade: exactly 129 characters, lowercase hex halves split by ':'.
    if (value.size() != 2 * kEkmSize + 1 + 64 || value[2 * kEkmSize] != ':' ||
        !is_lower_hex(value.substr(0, 2 * kEkmSize)) || !is_lower_hex(value.substr(2 * kEkmSize + 1))) {
        throw Error(Errc::malformed,
                    fmt::format("{} must be 64 lowercase hex digits, ':', 64 lowercase hex digits ({} characters "
                                "received)",
                                kEkmHeader, value.size()));
    }
    auto ekm = from_hex(value.substr(0, 2 * kEkmSize), kEkmHeader);
    const auto mac = from_hex(value.substr(2 * kEkmSize + 1), kEkmHeader);
    if (!equal_ct(mac, hmac_sha256(hmac_key, ekm))) {
        throw Error(Errc::invalid_argument,
                    fmt::format("{}: the HMAC does not match (the proxy uses another key)", kEkmHeader));
    }
    return ekm;
}

Bytes leaf_certificate_der(ByteSpan pem_or_der) {
    const std::string_view text(reinterpret_cast<const char*>(pem_or_der.data()), pem_or_der.size());
    if (text.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
        return ossl::cert_der(ossl::parse_pem_cert(text, "certificate").get());
    }
    return ossl::cert_der(ossl::parse_der_cert(pem_or_der, "certificate").get());
}

}  // namespace tdxkit::atls
