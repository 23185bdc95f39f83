#pragma once

// dstack application measurements: the compose hash of an app-compose.json, the values derived from
// it (app id, RTMR3 event digest, MRCONFIGID), and the dstack SDK's canonical JSON form.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit {

// dstack's KeyProviderKind, with the byte MRCONFIGID V2 hashes.
enum class KeyProviderKind : std::uint8_t { none = 0, local = 1, kms = 2, tpm = 3 };

// Accepts "none", "local" (also "local-sgx", as the key-provider event names it), "kms", "tpm";
// nullopt otherwise.
[[nodiscard]] TDXKIT_EXPORT std::optional<KeyProviderKind> parse_key_provider_kind(std::string_view name) noexcept;
// "none", "local", "kms", "tpm".
[[nodiscard]] TDXKIT_EXPORT const char* key_provider_kind_name(KeyProviderKind kind) noexcept;

// Keccak-256 as Ethereum and dstack use it (original Keccak padding, not SHA3-256). Never throws;
// nor do the two MRCONFIGID functions below.
[[nodiscard]] TDXKIT_EXPORT Octets<32> keccak256(ByteSpan data);

// MRCONFIGID V1 = 0x01 || compose_hash || zeros.
[[nodiscard]] TDXKIT_EXPORT Measurement mr_config_id_v1(const Octets<32>& compose_hash);
// MRCONFIGID V2 = 0x02 || keccak256(compose_hash || app_id || kind || key_provider_id) || zeros.
[[nodiscard]] TDXKIT_EXPORT Measurement mr_config_id_v2(const Octets<32>& compose_hash, const Octets<20>& app_id,
                                                        KeyProviderKind kind, ByteSpan key_provider_id);

// The dstack SDK's canonical form (getComposeHash of @phala/dstack-sdk): keys sorted as JavaScript
// sorts them, compact, raw UTF-8, numbers as JavaScript prints them. `preprocess` applies the SDK's
// optional normalization (drop docker_compose_file for runner "bash", bash_script for
// "docker-compose", an empty pre_launch_script). Throws Error(malformed) for invalid JSON (nesting
// deeper than 512 included), and with `preprocess` for a document that is not an object. A duplicate
// key keeps its last value and a number beyond double's range becomes null, as in JavaScript.
[[nodiscard]] TDXKIT_EXPORT std::string normalize_app_compose(std::string_view json_text, bool preprocess = false);

// Problems that make the file an unlikely app-compose (not fatal: the guest hashes whatever it gets),
// one line each; empty when none. Never throws: text that is not JSON is reported as a problem.
[[nodiscard]] TDXKIT_EXPORT std::vector<std::string> check_app_compose(std::string_view json_text);

struct ComposeOptions {
    std::optional<Octets<20>> app_id;             // default: the first 20 bytes of the compose hash
    std::optional<KeyProviderKind> key_provider;  // default: from the file, as dstack derives it (else none)
    std::optional<Bytes> key_provider_id;         // default: the file's key_provider_id (hex), else empty
};

struct ComposeMeasurement {
    Octets<32> compose_hash{};  // SHA-256 of the measured bytes
    Octets<20> app_id{};
    Measurement compose_event_digest{};  // the RTMR3 "compose-hash" event (V1)
    Measurement app_id_event_digest{};   // the RTMR3 "app-id" event (V1)
    Measurement mr_config_id{};
    int mr_config_version = 1;  // 2 when a key provider id is known (dstack's rule)
    KeyProviderKind key_provider = KeyProviderKind::none;
    Bytes key_provider_id;
};

// `measured` is exactly what the guest hashes (the file, or its normalized form). Bytes that are not
// JSON are measured all the same, with the defaults above as for a file without key provider
// settings. Throws Error(malformed) only when the file's "key_provider_id" is used and is not hex.
[[nodiscard]] TDXKIT_EXPORT ComposeMeasurement measure_compose(ByteSpan measured, const ComposeOptions& options = {});

}  // namespace tdxkit
