// Fetching collateral from Intel PCS or a PCCS (v4 API), as dcap-qvl's CollateralClient does, with
// retries, and checks that the service answered what was asked.

#include <algorithm>
#include <cctype>
#include <thread>

#include <fmt/format.h>

#include "pcs/client.hpp"
#include "pcs/pck_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/pcs.hpp"

namespace tdxkit {
namespace {

std::string strip_trailing_slashes(std::string_view url) {
    while (url.ends_with('/')) url.remove_suffix(1);
    return std::string(url);
}

// Enough of an error body to show what the service said, without letting it write control
// characters to a terminal.
std::string body_excerpt(std::string_view body) {
    constexpr std::size_t kMax = 200;
    std::string out;
    for (const char c : body.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : ' ';
    if (body.size() > kMax) out += "...";
    return out;
}

std::string status_hint(long status) {
    if (status == 404) return "the service has no such item (for TCB Info: no collateral for this FMSPC)";
    if (status == 401 || status == 403) return "the service refused access";
    if (status == 429 || status >= 500) {
        return "the service is overloaded or failing; try again later, or use a cached entry with --offline";
    }
    return "unexpected response";
}

struct SignedResponse {
    std::string document;
    std::string issuer_chain;
};

std::string issuer_chain(const HttpResponse& r, std::initializer_list<std::string_view> names, const std::string& url) {
    for (const auto name : names) {
        if (const auto value = r.header(name)) {
            auto pem = percent_decode(*value, fmt::format("{} header from {}", name, url));
            const auto certs = describe_pem_chain(as_bytes(pem));
            if (certs.size() < 2) {
                throw Error(Errc::malformed, fmt::format("{} header from {} holds {} certificate(s), expected the "
                                                         "signing certificate and the root",
                                                         name, url, certs.size()));
            }
            return pem;
        }
    }
    throw Error(Errc::malformed, fmt::format("response from {} has no {} header", url, *names.begin()));
}

void require_match(bool ok, const std::string& label, std::string_view item, std::string_view actual,
                   std::string_view requested) {
    if (!ok) {
        throw Error(Errc::malformed, fmt::format("{} answered {} for {}, but {} was requested: the service is "
                                                 "misconfigured or not the one intended",
                                                 label, item, actual, requested));
    }
}

}  // namespace

const char* tee_type_name(TeeType t) noexcept { return t == TeeType::tdx ? "tdx" : "sgx"; }
const char* update_type_name(UpdateType u) noexcept { return u == UpdateType::early ? "early" : "standard"; }

std::string normalize_fmspc(std::string_view fmspc) {
    std::string out;
    for (const char c : fmspc) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (out.size() != 12 ||
        !std::all_of(out.begin(), out.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
        throw Error(Errc::invalid_argument,
                    fmt::format("FMSPC \"{}\" is not 12 hex digits (6 bytes, e.g. 90C06F000000)", fmspc));
    }
    return out;
}

CollateralRequest collateral_request_for(const Quote& quote) {
    const auto chain = detail::quote_pck_chain(quote);
    if (chain.empty()) {
        throw Error(Errc::collateral_unavailable,
                    fmt::format("the quote carries certification data type {}, not a PCK certificate chain (5): "
                                "its FMSPC is unknown; pass --fmspc and --ca, or --collateral",
                                quote.signature_data.certification.type));
    }
    const auto& leaf = chain.front();
    if (!leaf.sgx_extension) {
        throw Error(Errc::malformed, "PCK leaf certificate has no Intel SGX extension (OID 1.2.840.113741.1.13.1)");
    }
    const auto ca = pck_ca_type(leaf);
    if (ca == PckCaType::none) {
        throw Error(Errc::malformed, fmt::format("PCK leaf is issued by \"{}\", neither a PCK Platform CA nor a "
                                                 "PCK Processor CA",
                                                 leaf.issuer_cn));
    }
    return {quote.is_tdx() ? TeeType::tdx : TeeType::sgx, to_hex(leaf.sgx_extension->fmspc), ca};
}

std::string collateral_key(const CollateralRequest& request) {
    return fmt::format("{}/{}/{}", tee_type_name(request.tee), request.fmspc, pck_ca_type_name(request.ca));
}

bool is_intel_pcs(std::string_view url) {
    const auto base = strip_trailing_slashes(url);
    return base == kIntelPcsUrl || base.starts_with(std::string(kIntelPcsUrl) + "/");
}

std::string service_label(const CollateralService& service) {
    return fmt::format("{} {}", is_intel_pcs(service.url) ? "Intel PCS" : "PCCS", strip_trailing_slashes(service.url));
}

CollateralFetcher::CollateralFetcher(HttpTransport& transport, CollateralService service, ProgressFn progress,
                                     SleepFn sleep)
    : transport_(transport), service_(std::move(service)), progress_(std::move(progress)), sleep_(std::move(sleep)) {
    if (!sleep_) sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

HttpResponse CollateralFetcher::get(const std::string& url) {
    for (int attempt = 1;; ++attempt) {
        auto r = transport_.get(url);
        if (r.status == 200) return r;
        const auto delay = retry_delay(r, attempt, service_.retry, now_utc());
        const auto what = r.status == 0 ? r.transport_error : fmt::format("HTTP {}", r.status);
        if (!delay) {
            const auto tries = attempt == 1 ? std::string{} : fmt::format(" (gave up after {} attempts)", attempt);
            if (r.status == 0) {
                throw Error(Errc::collateral_unavailable, fmt::format("GET {} failed: {}{}", url, what, tries));
            }
            const auto body = body_excerpt(r.body);
            throw Error(Errc::collateral_unavailable,
                        fmt::format("GET {} failed with HTTP {}{}: {}{}", url, r.status, tries, status_hint(r.status),
                                    body.empty() ? "" : fmt::format(" (response: {})", body)));
        }
        if (progress_) {
            progress_(fmt::format("{}: {}, retrying in {:.1f} s (attempt {} of {})", url, what,
                                  static_cast<double>(delay->count()) / 1000.0, attempt + 1,
                                  service_.retry.max_attempts));
        }
        sleep_(*delay);
    }
}

Collateral CollateralFetcher::fetch(const CollateralRequest& request) {
    const auto base = strip_trailing_slashes(service_.url);
    const auto label = service_label(service_);
    const auto tee = request.tee == TeeType::tdx ? "tdx" : "sgx";
    const auto update = update_type_name(service_.update);
    const auto fmspc = normalize_fmspc(request.fmspc);
    if (request.ca == PckCaType::none) throw Error(Errc::invalid_argument, "PCK CA type must be platform or processor");
    const auto fetch_one = [&](std::string_view what, const std::string& url) {
        if (progress_) progress_(fmt::format("fetching {} from {}", what, url));
        return get(url);
    };

    Collateral c;
    const auto tcb_url = fmt::format("{}/{}/certification/v4/tcb?fmspc={}&update={}", base, tee, fmspc, update);
    const auto tcb = fetch_one("TCB Info", tcb_url);
    const auto tcb_body = extract_signed_body(tcb.body, "tcbInfo");
    c.tcb_info = tcb_body.body;
    c.tcb_info_signature = tcb_body.signature;
    c.tcb_info_issuer_chain = issuer_chain(tcb, {"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"}, tcb_url);

    const auto qe_url = fmt::format("{}/{}/certification/v4/qe/identity?update={}", base, tee, update);
    const auto qe = fetch_one("QE Identity", qe_url);
    const auto qe_body = extract_signed_body(qe.body, "enclaveIdentity");
    c.qe_identity = qe_body.body;
    c.qe_identity_signature = qe_body.signature;
    c.qe_identity_issuer_chain =
        issuer_chain(qe, {"SGX-Enclave-Identity-Issuer-Chain", "Enclave-Identity-Issuer-Chain"}, qe_url);

    const auto crl_url =
        fmt::format("{}/sgx/certification/v4/pckcrl?ca={}&encoding=der", base, pck_ca_type_name(request.ca));
    const auto crl = fetch_one("PCK CRL", crl_url);
    c.pck_crl = normalize_crl(as_bytes(crl.body), crl_url);
    c.pck_crl_issuer_chain = issuer_chain(crl, {"SGX-PCK-CRL-Issuer-Chain"}, crl_url);

    const auto root_url = !service_.root_ca_crl_url.empty() ? service_.root_ca_crl_url
                          : is_intel_pcs(base)              ? std::string(kIntelRootCaCrlUrl)
                                                            : base + "/sgx/certification/v4/rootcacrl";
    c.root_ca_crl = normalize_crl(as_bytes(fetch_one("root CA CRL", root_url).body), root_url);

    const auto summary = describe_collateral(c);
    const std::string expected_tee = request.tee == TeeType::tdx ? "TDX" : "SGX";
    require_match(summary.tee == expected_tee, label, "TCB Info", summary.tee, expected_tee);
    require_match(summary.fmspc == fmspc, label, "TCB Info", "FMSPC " + summary.fmspc, "FMSPC " + fmspc);
    const std::string expected_qe = request.tee == TeeType::tdx ? "TD_QE" : "QE";
    require_match(summary.qe_identity_id == expected_qe, label, "QE Identity", summary.qe_identity_id, expected_qe);
    require_match(summary.pck_crl_ca == pck_ca_type_name(request.ca), label, "the PCK CRL",
                  summary.pck_crl_ca.empty() ? "an unknown CA" : summary.pck_crl_ca + " CA",
                  std::string(pck_ca_type_name(request.ca)) + " CA");
    c.source = label;
    return c;
}

}  // namespace tdxkit
