// dstack RA-TLS certificates: PEM bundles and DER, the extensions under 1.3.6.1.4.1.62397.1 (the
// ELGZv1 event log inflated within its limit), the certificate's own checks, and the evidence
// verify takes from it. The leaf parsed from its DER chain reads the same as from the input.
#include <cstdlib>
#include <vector>

#include "fuzz_target.hpp"
#include "tdxkit/ratls.hpp"

namespace {

constexpr tdxkit::UnixTime kNow = 1768435200;  // 2026-01-15T00:00:00Z

void fuzz(tdxkit::ByteSpan data) {
    (void)tdxkit::ratls::looks_like_certificate(data);
    try {
        const auto certificate = tdxkit::ratls::parse_certificate(data);
        if (certificate.event_log_compressed && !certificate.event_log) std::abort();
        if (certificate.event_log && certificate.event_log->size() > tdxkit::ratls::kMaxEventLogExtension) {
            std::abort();
        }
        (void)tdxkit::ratls::check_certificate(certificate, kNow);

        std::vector<tdxkit::Bytes> chain{certificate.der};
        chain.insert(chain.end(), certificate.chain.begin(), certificate.chain.end());
        const auto again = tdxkit::ratls::parse_certificate_chain(chain);
        if (again.der != certificate.der || again.spki_der != certificate.spki_der ||
            again.quote != certificate.quote || again.event_log != certificate.event_log ||
            again.attestation != certificate.attestation || again.chain != certificate.chain) {
            std::abort();
        }
    } catch (const tdxkit::Error&) {
    }
    (void)tdxkit::ratls::decode_evidence(data);
}

}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
