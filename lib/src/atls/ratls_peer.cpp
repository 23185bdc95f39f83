// RA-TLS: the peer's certificate is its evidence. What binds the TLS session to the TD:
// - the handshake proves the peer holds the private key of the leaf certificate it presented (its
//   TLS 1.3 CertificateVerify signs the transcript with that key; OpenSSL checks it whatever the
//   verify mode, which only concerns the path to a CA);
// - ratls::appraise_evidence proves that the TD's quote binds that same leaf's key: REPORTDATA must
//   equal SHA-512("ratls-cert:" || SubjectPublicKeyInfo DER of the leaf) ("report_data_binding"),
//   and Intel's signature chain vouches for the quote ("quote_verification").
// Together: the party at the other end of this session holds a key that only the attested TD was
// shown to hold. Which is why the leaf appraised here must be exactly the one the handshake
// authenticated (SSL_get1_peer_certificate), never one taken from elsewhere in the chain.

#include "atls/ratls_peer.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include <fmt/format.h>

#include "crypto/ossl.hpp"
#include "tdxkit/appraise.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::atls::detail {
namespace {

// The leaf the handshake authenticated, then the rest of the chain the peer sent. On the client
// side OpenSSL's chain starts with the leaf, on the server side it does not.
std::vector<Bytes> peer_chain(SSL* ssl) {
    std::vector<Bytes> chain;
    const ossl::X509Ptr leaf{SSL_get1_peer_certificate(ssl)};
    if (!leaf) return chain;
    chain.push_back(ossl::cert_der(leaf.get()));
    if (auto* const stack = SSL_get_peer_cert_chain(ssl); stack != nullptr) {
        for (int i = 0; i < sk_X509_num(stack); ++i) {
            auto der = ossl::cert_der(sk_X509_value(stack, i));
            if (i == 0 && der == chain.front()) continue;
            chain.push_back(std::move(der));
        }
    }
    return chain;
}

}  // namespace

void appraise_ra_tls_peer(SSL* ssl, const PeerAppraisalOptions& options, std::string_view peer, Outcome& o,
                          Steps& steps) {
    auto chain = peer_chain(ssl);
    if (chain.empty()) {
        steps.add("ra_tls_certificate", false, fmt::format("the {} presented no certificate", peer));
        return;
    }
    ratls::Evidence evidence;
    try {
        evidence = ratls::decode_evidence(chain.front());
        if (!evidence.certificate) throw Error(Errc::malformed, "it did not decode as a certificate");
    } catch (const Error& e) {
        if (e.code() != Errc::malformed && e.code() != Errc::unsupported) throw;
        steps.add("ra_tls_certificate", false,
                  fmt::format("the {}'s certificate carries no usable RA-TLS evidence: {} (an RA-TLS peer's "
                              "certificate holds its TDX quote in extension {} or a versioned attestation in {})",
                              peer, e.what(), ratls::kOidQuote, ratls::kOidAttestation));
        return;
    }
    // The issuers the peer sent, for the certificate's signature check (dstack's app certificates are
    // signed by the app CA, which a server sends after its leaf).
    evidence.certificate->chain.assign(std::make_move_iterator(chain.begin() + 1),
                                       std::make_move_iterator(chain.end()));
    const auto& certificate = *evidence.certificate;
    o.expected_report_data_hex = to_hex(ratls::content_report_data(ratls::kTagRaTlsCert, certificate.spki_der));
    try {
        o.quote = parse_quote(evidence.quote);
    } catch (const Error& e) {
        if (e.code() != Errc::malformed && e.code() != Errc::unsupported) throw;
        o.evidence = std::move(evidence);
        steps.add("ra_tls_certificate", false,
                  fmt::format("the quote in the {}'s certificate does not parse: {}", peer, e.what()));
        return;
    }
    const auto* td = o.quote->td_body();
    const bool is_tdx = td != nullptr && o.quote->is_tdx();
    const auto detail =
        fmt::format("{} (\"{:.128}\"), evidence from {}{}", evidence.container, certificate.subject,
                    evidence.source.empty() ? "the certificate" : evidence.source,
                    is_tdx ? fmt::format(": TDX quote v{}, {} bytes", o.quote->header.version, evidence.quote.size())
                           : ": the quote is not a TDX quote");
    o.evidence = std::move(evidence);
    if (!steps.add("ra_tls_certificate", is_tdx, detail)) return;
    const auto& ev = *o.evidence;

    // As for aTLS, the peer's own broken PCK chain is a failed quote_verification.
    const auto collateral = peer_collateral(options.collateral, *o.quote, steps);
    if (!collateral) return;
    AppraisalOptions appraisal_options;
    appraisal_options.now = options.at ? *options.at : now_utc();
    appraisal_options.trust_root = options.trust_root;
    // No expected_report_data: appraise_evidence derives it from the certificate's own key.
    auto appraisal = ratls::appraise_evidence(ev, *o.quote, *collateral, options.policy, appraisal_options);
    o.report = std::move(appraisal.report);
    o.policy_result = std::move(appraisal.policy_result);
    add_quote_steps(*o.report, steps);
    for (const auto& check : appraisal.evidence_checks) steps.add(check.id, check.passed, check.detail);
    // The check RA-TLS rests on: never assumed, even should the appraisal not report it.
    if (std::none_of(appraisal.evidence_checks.begin(), appraisal.evidence_checks.end(),
                     [](const Check& c) { return c.id == "report_data_binding"; })) {
        steps.add("report_data_binding", false,
                  fmt::format("the appraisal did not compare the quote's REPORTDATA with SHA-512(\"ratls-cert:\" || "
                              "SPKI) = {}: nothing binds the {}'s key to the TD",
                              o.expected_report_data_hex, peer));
    }

    // appraise_evidence replays the log's RTMR3 events ("event_log_rtmr3"); a certificate without one
    // shows nothing of what runs in the TD beyond its registers, so the session needs one.
    if (!ev.event_log) {
        steps.add("event_log", false,
                  fmt::format("the {}'s certificate carries no event log (extension {}, or inside a versioned "
                              "attestation in {}); dstack's RA-TLS certificates carry one",
                              peer, ratls::kOidEventLog, ratls::kOidAttestation));
    } else {
        o.event_count = ev.event_log->events.size();
        o.replayed_rtmrs = bind_event_log(*ev.event_log, *td).replayed;  // shown; the verdict is the check's
        steps.add("event_log", true,
                  fmt::format("{} events ({})", ev.event_log->events.size(), ev.event_log->container));
    }
    add_policy_step(*o.policy_result, options.policy, steps);
    // appraise_evidence decides; a rejection none of the steps above shows still rejects.
    if (!appraisal.accepted && o.failed_step.empty()) steps.add("appraisal", false, appraisal.reason);
}

}  // namespace tdxkit::atls::detail
