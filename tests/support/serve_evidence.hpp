#pragma once

// Evidence for the service tests and the serve benchmark: the real dstack lite capture
// (testdata/real: dstack-verifier's tdx-lite fixtures) and a simulated twin of it that verifies.
//
// No collateral in the repository verifies the real lite quote (testdata/real/PROVENANCE.md), so the
// twin is a quote signed by the test PKI (testing::Scenario, testdata/collateral/sim) whose TD body
// copies the real quote's registers; wrapped with the real attestation's event log and vm_config, it
// is what dstack-verifier's success path sees, with only the platform (PCK, hence device_id) changed.

#include <string>

#include <nlohmann/json.hpp>

#include "tdxkit/attestation.hpp"
#include "tdxkit/bytes.hpp"

namespace tdxkit::test {

struct LiteEvidence {
    DstackAttestation real;        // testdata/real/attestations/dstack-verifier-tdx-lite-attestation.json, decoded
    nlohmann::json real_getquote;  // testdata/real/eventlogs/dstack-verifier-tdx-lite-getquote.json
    Bytes quote;                   // the simulated twin of real.quote
    Bytes attestation;             // a SCALE (V0) attestation: quote, real.event_log, real.report_data, real.config
    Octets<16> ppid{};             // the test PCK's PPID (device_id is its SHA-256)
    // dstack-verifier request bodies for the twin: {"attestation"} and {"quote","event_log","vm_config"}.
    [[nodiscard]] std::string attestation_request() const;
    [[nodiscard]] std::string quote_request() const;
};

// Built once (the scenario signs with deterministic keys, so every call gives the same bytes).
[[nodiscard]] const LiteEvidence& lite_evidence();

}  // namespace tdxkit::test
