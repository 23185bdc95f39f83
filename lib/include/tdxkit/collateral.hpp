#pragma once

// DCAP collateral (Intel PCS / PCCS v4): the items a verifier needs besides the quote. tdxkit keeps
// the signed JSON bodies as the exact bytes that were signed; they are never re-serialized.

#include <optional>
#include <string>
#include <string_view>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"

namespace tdxkit {

struct Collateral {
    std::string pck_crl_issuer_chain;   // PEM: PCK Platform/Processor CA, root
    Bytes root_ca_crl;                  // DER
    Bytes pck_crl;                      // DER
    std::string tcb_info_issuer_chain;  // PEM: TCB Signing, root
    std::string tcb_info;               // exact JSON text of the "tcbInfo" object (the signed bytes)
    Bytes tcb_info_signature;           // raw r||s, 64 bytes
    std::string qe_identity_issuer_chain;
    std::string qe_identity;  // exact JSON text of the "enclaveIdentity" object
    Bytes qe_identity_signature;
    std::optional<std::string> pck_certificate_chain;  // only when the quote lacks one
    std::string source;  // where it came from, for reports ("directory X", "bundle Y", "cache", ...)
};

// The exact text of a top-level member's value in a JSON object, and the top-level "signature"
// hex string: {"tcbInfo":{...},"signature":"..."} -> ({...}, signature bytes). Throws
// Error(malformed) when the document is not such an object: either member missing or given twice,
// the body not an object, the signature not 64 bytes of hex. Nothing is verified.
struct SignedJsonBody {
    std::string body;
    Bytes signature;
};
[[nodiscard]] TDXKIT_EXPORT SignedJsonBody extract_signed_body(std::string_view document, std::string_view member);

// A CRL given as DER, PEM, or hex text of the DER (what PCCS returns). Returns DER; its signature is
// not checked. Error(malformed) naming `what` for anything else, Error(crypto) when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT Bytes normalize_crl(ByteSpan data, std::string_view what);

// Loads collateral from a directory (tcb_info.json, qe_identity.json, *_issuer_chain.pem,
// pck_crl.{der,pem,hex}, root_ca_crl.{der,pem,hex}) or from one JSON file in dcap-qvl's
// QuoteCollateralV3 format. Nothing is verified; Collateral::source names the path. A missing path
// or item: Error(collateral_unavailable); an unreadable file: Error(io); a bad item or a file over
// 4 MiB: Error(malformed).
[[nodiscard]] TDXKIT_EXPORT Collateral load_collateral(const std::string& path);

// dcap-qvl QuoteCollateralV3 JSON (CRLs and signatures as lowercase hex), ending with a newline;
// `source` is not part of it. The text members must be valid UTF-8.
[[nodiscard]] TDXKIT_EXPORT std::string collateral_to_json(const Collateral& collateral);
// The inverse; `what` names the document in messages and becomes Collateral::source. Nothing is
// verified. A missing member: Error(collateral_unavailable); bad JSON, an unknown or non-string
// member, a bad CRL or signature: Error(malformed).
[[nodiscard]] TDXKIT_EXPORT Collateral collateral_from_json(std::string_view json_text, std::string_view what);

}  // namespace tdxkit
