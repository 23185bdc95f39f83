#pragma once

// dstack's versioned attestation (dstack-attest `VersionedAttestation`): what GetQuote's
// `attestation` field, dstack-verifier's {"attestation": hex} input and the RA-TLS extension
// 1.3.6.1.4.1.62397.1.8 carry. Two wire forms, told apart by the first byte:
// - 0x00: the legacy SCALE encoding (V0): a platform tag, the TDX quote and event log, the runtime
//   events, the 64-byte report data and the VM config, all with SCALE compact lengths;
// - a msgpack map prefix (0x80..0x8f, 0xde, 0xdf): V1, {version: 1, platform: {kind, data},
//   stack: {kind, data}}.
// Only the TDX platform under the dstack stack is read; the other platforms dstack defines (GCP
// TDX+vTPM, Nitro Enclave, NitroTPM, SEV-SNP) and the dstack-pod stack are recognised and refused
// with Error(unsupported), never misread as TDX. Everything here is untrusted input: the quote is
// what DCAP verifies, and the event log counts only once bind_event_log vouches for it.

#include <cstddef>
#include <string>

#include "tdxkit/bytes.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/export.hpp"

namespace tdxkit {

// dstack's own limit (MAX_ATTESTATION_BYTES).
inline constexpr std::size_t kMaxAttestationSize = 10 * 1024 * 1024;

enum class AttestationWire { scale_v0, msgpack_v1 };

struct DstackAttestation {
    AttestationWire wire = AttestationWire::scale_v0;
    Bytes quote;  // the TDX quote bytes as carried (parse_quote reads them)
    // The platform event log (boot events, RTMR3 runtime events). When the platform log has no RTMR3
    // events (a stripped GCP-style log), the stack's runtime events are appended as RTMR3 events; when
    // it has them, the two lists must agree event by event (Error(malformed) otherwise).
    EventLog event_log;
    // stack.report_data: a copy the container claims; only the quote's REPORTDATA is signed, so
    // appraise_evidence requires the two to be equal and nothing reads this one.
    Octets<64> report_data{};
    std::string config;  // stack.config: the VM config JSON text ("" when absent); a label, not evidence

    [[nodiscard]] TDXKIT_EXPORT const char* wire_name() const noexcept;  // "SCALE (V0)" or "msgpack (V1)"
};

// Decodes either wire form. Error(malformed) names the field and byte offset for a truncated or
// oversized length, trailing bytes, bad UTF-8, an unknown msgpack member, a wrong version or an event
// the event-log rules refuse; Error(unsupported) for another platform or stack; both for input over
// kMaxAttestationSize or empty.
[[nodiscard]] TDXKIT_EXPORT DstackAttestation decode_dstack_attestation(ByteSpan bytes);

// The legacy SCALE form (V0, TDX platform) of a quote, its event log (RTMR3 runtime events are also
// written as the stack's runtime events), report data and config. Error(invalid_argument) for an event
// log that does not fit the format (a boot event's digest is required; a version-2 runtime event, or an
// RTMR3 event that is not a runtime event, has no place in it).
[[nodiscard]] TDXKIT_EXPORT Bytes encode_dstack_attestation(ByteSpan quote, const EventLog& event_log,
                                                            const Octets<64>& report_data, std::string_view config);

}  // namespace tdxkit
