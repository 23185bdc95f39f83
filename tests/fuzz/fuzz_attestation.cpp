// dstack versioned attestations: the legacy SCALE form (V0) and msgpack (V1), then the containers
// verify finds them in (hex, {"attestation": hex}, an RA-TLS certificate). Whatever decodes must
// re-encode as V0 and decode again to the same quote, report data, config and replayed RTMRs.
#include <cstdio>
#include <cstdlib>

#include "fuzz_target.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/ratls.hpp"

namespace {

void round_trip(const tdxkit::DstackAttestation& attestation) {
    (void)attestation.wire_name();
    const auto rtmrs = tdxkit::replay_rtmrs(attestation.event_log);
    tdxkit::Bytes encoded;
    try {
        encoded = tdxkit::encode_dstack_attestation(attestation.quote, attestation.event_log, attestation.report_data,
                                                    attestation.config);
    } catch (const tdxkit::Error&) {
        return;  // a log the legacy form cannot carry (a V2 runtime event, a boot event without digest)
    }
    if (encoded.size() > tdxkit::kMaxAttestationSize) return;
    tdxkit::DstackAttestation again;
    try {
        again = tdxkit::decode_dstack_attestation(encoded);
    } catch (const tdxkit::Error& e) {
        std::fprintf(stderr, "the V0 encoding does not decode: %s\n", e.what());
        std::abort();  // the encoder wrote what its own decoder refuses
    }
    if (again.wire != tdxkit::AttestationWire::scale_v0 || again.quote != attestation.quote ||
        again.report_data != attestation.report_data || again.config != attestation.config ||
        again.event_log.events.size() != attestation.event_log.events.size() ||
        tdxkit::replay_rtmrs(again.event_log) != rtmrs) {
        std::abort();
    }
}

void fuzz(tdxkit::ByteSpan data) {
    try {
        round_trip(tdxkit::decode_dstack_attestation(data));
    } catch (const tdxkit::Error&) {
    }
    (void)tdxkit::ratls::decode_evidence(data);
}

}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
