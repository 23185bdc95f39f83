#pragma once

// The appraisal of a TLS peer's RA-TLS certificate, shared by the client (a server's certificate)
// and the server (a client's, for mutual RA-TLS). Private to the library.

#include <string_view>

#include <openssl/ssl.h>

#include "atls/steps.hpp"
#include "tdxkit/atls.hpp"

namespace tdxkit::atls::detail {

// The steps from "ra_tls_certificate" on (atls.hpp) for the peer of `ssl`, whose handshake has
// completed; fills `o` (evidence, quote, report, policy result, replayed RTMRs). `peer` names the
// peer in reasons ("server", "client"). The caller decides by o.failed_step, which is set whenever the
// appraisal did not accept. Throws what options.collateral throws other than Error(malformed or
// unsupported), and Error(crypto or internal).
void appraise_ra_tls_peer(SSL* ssl, const PeerAppraisalOptions& options, std::string_view peer, Outcome& o,
                          Steps& steps);

}  // namespace tdxkit::atls::detail
