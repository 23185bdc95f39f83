// PCS / PCCS responses: the fetcher against a service whose every answer (body, issuer-chain
// headers, Retry-After) comes from the fuzz input; plus the header decoders on their own.
#include <chrono>
#include <string>

#include "fuzz_target.hpp"
#include "pcs/client.hpp"
#include "tdxkit/pcs.hpp"

namespace {

class FuzzTransport final : public tdxkit::HttpTransport {
public:
    explicit FuzzTransport(std::string_view text) : text_(text) {}
    tdxkit::HttpResponse get(const std::string&) override {
        tdxkit::HttpResponse r;
        r.status = calls_++ == 0 && !text_.empty() && text_[0] == '5' ? 503 : 200;
        r.body = std::string(text_);
        for (const char* name : {"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain",
                                 "SGX-Enclave-Identity-Issuer-Chain", "SGX-PCK-CRL-Issuer-Chain", "Retry-After"}) {
            r.headers.emplace_back(name, std::string(text_.substr(0, 4096)));
        }
        return r;
    }

private:
    std::string_view text_;
    int calls_ = 0;
};

void fuzz(tdxkit::ByteSpan data) {
    const auto text = fuzz_text(data);
    try {
        (void)tdxkit::percent_decode(text, "fuzz header");
    } catch (const tdxkit::Error&) {
    }
    (void)tdxkit::parse_retry_after(text, 1768435200);
    FuzzTransport transport(text);
    tdxkit::CollateralService service;
    service.url = "https://pccs.invalid";
    service.retry.max_attempts = 2;
    tdxkit::CollateralFetcher fetcher(transport, service, {}, [](std::chrono::milliseconds) {});
    tdxkit::CollateralRequest request;
    request.fmspc = "90c06f000000";
    (void)fetcher.fetch(request);
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
