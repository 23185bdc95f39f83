// What a collateral set contains (describe_collateral): items, issuers and validity windows, with
// nothing verified. The cache uses it for freshness, `collateral show` to list the items.

#include "pcs/collateral_summary.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "crypto/cert_cache.hpp"
#include "pcs/tcb_info.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/pcs.hpp"

namespace tdxkit {
namespace {

CollateralItem crl_item(std::string name, X509_CRL* crl) {
    const auto* next = X509_CRL_get0_nextUpdate(crl);
    if (next == nullptr) throw Error(Errc::malformed, fmt::format("{} has no nextUpdate", name));
    return {std::move(name), ossl::common_name(X509_CRL_get_issuer(crl)),
            ossl::asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl)), ossl::asn1_time_to_unix(next)};
}

}  // namespace

std::vector<ossl::X509Ptr> pcs::parse_pem_chain(std::string_view pem, std::string_view what) {
    std::vector<ossl::X509Ptr> out;
    for (const auto& one : split_pem_chain(as_bytes(pem))) out.push_back(ossl::cached_pem_cert(one, what));
    if (out.empty()) throw Error(Errc::malformed, fmt::format("{} holds no certificate", what));
    return out;
}

std::string pcs::subject_cn(X509* cert) { return ossl::common_name(X509_get_subject_name(cert)); }

CollateralSummary describe_collateral(const Collateral& c) {
    CollateralSummary s;
    const auto tcb = pcs::parse_tcb_info(c.tcb_info);
    const auto qe = pcs::parse_qe_identity(c.qe_identity);
    s.tee = tcb.id;
    s.fmspc = to_hex(tcb.fmspc);
    s.pce_id = to_hex(tcb.pce_id);
    s.qe_identity_id = qe.id;
    s.tcb_evaluation_data_number = tcb.tcb_evaluation_data_number;
    s.qe_tcb_evaluation_data_number = qe.tcb_evaluation_data_number;
    const auto signer_cn = [](const std::string& pem, std::string_view what) {
        return pcs::subject_cn(pcs::parse_pem_chain(pem, what).front().get());
    };
    s.items.push_back(
        {"tcb_info", signer_cn(c.tcb_info_issuer_chain, "TCB Info issuer chain"), tcb.issue_date, tcb.next_update});
    s.items.push_back({"qe_identity", signer_cn(c.qe_identity_issuer_chain, "QE Identity issuer chain"), qe.issue_date,
                       qe.next_update});
    const auto pck_crl = ossl::cached_der_crl(c.pck_crl, "PCK CRL");
    s.items.push_back(crl_item("pck_crl", pck_crl.get()));
    s.items.push_back(crl_item("root_ca_crl", ossl::cached_der_crl(c.root_ca_crl, "root CA CRL").get()));
    const auto& issuer = s.items[2].issuer;
    s.pck_crl_ca = issuer == "Intel SGX PCK Platform CA"    ? "platform"
                   : issuer == "Intel SGX PCK Processor CA" ? "processor"
                                                            : "";
    s.next_update = std::min_element(s.items.begin(), s.items.end(), [](const auto& a, const auto& b) {
                        return a.valid_until < b.valid_until;
                    })->valid_until;
    return s;
}

}  // namespace tdxkit
