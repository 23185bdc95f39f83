// Collateral inputs: signed-body extraction, TCB Info and QE Identity parsing, CRLs in DER, PEM or
// hex, and the QuoteCollateralV3 bundle.
#include "fuzz_target.hpp"
#include "pcs/tcb_info.hpp"
#include "tdxkit/collateral.hpp"

namespace {
template <class Fn>
void guarded(Fn&& fn) {
    try {
        fn();
    } catch (const tdxkit::Error&) {
    }
}

void fuzz(tdxkit::ByteSpan data) {
    const auto text = fuzz_text(data);
    guarded([&] {
        const auto tcb = tdxkit::extract_signed_body(text, "tcbInfo");
        (void)tdxkit::pcs::parse_tcb_info(tcb.body);
    });
    guarded([&] {
        const auto qe = tdxkit::extract_signed_body(text, "enclaveIdentity");
        (void)tdxkit::pcs::parse_qe_identity(qe.body);
    });
    guarded([&] { (void)tdxkit::pcs::parse_tcb_info(text); });
    guarded([&] { (void)tdxkit::pcs::parse_qe_identity(text); });
    guarded([&] { (void)tdxkit::normalize_crl(data, "fuzz CRL"); });
    (void)tdxkit::collateral_from_json(text, "fuzz bundle");
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
