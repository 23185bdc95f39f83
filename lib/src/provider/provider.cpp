#include <filesystem>

#include <fmt/format.h>

#include "provider/provider_internal.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit {

QuoteProvider parse_quote_provider(std::string_view name) {
    if (name == "auto") return QuoteProvider::automatic;
    if (name == "configfs-tsm") return QuoteProvider::configfs_tsm;
    if (name == "dstack") return QuoteProvider::dstack;
    if (name == "simulated") return QuoteProvider::simulated;
    throw Error(Errc::invalid_argument,
                fmt::format("unknown quote provider \"{}\" (auto, configfs-tsm, dstack, simulated)", name));
}

const char* quote_provider_name(QuoteProvider p) noexcept {
    switch (p) {
    case QuoteProvider::automatic: return "auto";
    case QuoteProvider::configfs_tsm: return "configfs-tsm";
    case QuoteProvider::dstack: return "dstack";
    case QuoteProvider::simulated: return "simulated";
    }
    return "unknown";
}

Octets<64> pad_report_data(ByteSpan data) {
    Octets<64> out{};
    if (data.size() > out.size()) {
        throw Error(
            Errc::invalid_argument,
            fmt::format("report data is {} bytes; a TD report holds at most 64 (hash longer data first)", data.size()));
    }
    std::copy(data.begin(), data.end(), out.begin());
    return out;
}

namespace provider {

// Real quotes are about 5 KB (a PEM chain of three certificates); dstack accepts up to 8 KB.
constexpr std::size_t kMaxProvidedQuote = 16 * 1024;

Bytes checked_quote(ByteSpan data, const Octets<64>& report_data, std::string_view source) {
    if (data.empty()) throw Error(Errc::malformed, fmt::format("{} returned an empty quote", source));
    if (data.size() > kMaxProvidedQuote) {
        throw Error(Errc::malformed, fmt::format("{} returned {} bytes, more than the {} a TDX quote can need", source,
                                                 data.size(), kMaxProvidedQuote));
    }
    Quote q;
    try {
        q = parse_quote(data);
    } catch (const Error& e) {
        throw Error(Errc::malformed, fmt::format("{} returned something that is not a quote: {}", source, e.what()));
    }
    if (!all_zero(data.subspan(q.raw.size()))) {
        throw Error(Errc::malformed,
                    fmt::format("{} returned {} unexpected non-zero bytes after the quote", source, q.trailing_bytes));
    }
    const auto* td = q.td_body();
    if (!q.is_tdx() || td == nullptr) {
        throw Error(Errc::malformed, fmt::format("{} returned a quote that is not a TDX quote", source));
    }
    if (!equal_ct(td->report_data, report_data)) {
        throw Error(Errc::malformed,
                    fmt::format("{} returned a quote over other report data: expected {}, got {} (another "
                                "writer may have raced this request; retry)",
                                source, to_hex(report_data), to_hex(td->report_data)));
    }
    return q.raw;
}

}  // namespace provider

GeneratedQuote generate_quote(const QuoteRequest& request) {
    switch (request.provider) {
    case QuoteProvider::configfs_tsm: return provider::from_configfs_tsm(request);
    case QuoteProvider::simulated:
        throw Error(Errc::invalid_argument,
                    "the simulated provider is not part of libtdxkit: it signs with the public TEST PKI and lives in "
                    "the tdxkit-testing library (tdxkit::testing::generate_simulated_quote)");
    case QuoteProvider::dstack: {
        std::string tried;
        const auto endpoint = provider::find_dstack_endpoint(request, tried);
        if (!endpoint) {
            throw Error(Errc::io, fmt::format("no dstack guest agent: tried {}; set {} or run inside a dstack CVM",
                                              tried, kDstackEndpointEnv));
        }
        return provider::from_dstack(request, *endpoint);
    }
    case QuoteProvider::automatic: break;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(request.tsm_dir, ec)) return provider::from_configfs_tsm(request);
    std::string tried;
    if (const auto endpoint = provider::find_dstack_endpoint(request, tried)) {
        return provider::from_dstack(request, *endpoint);
    }
    throw Error(Errc::io, fmt::format("no quote provider available: tried configfs-tsm ({} does not exist: not a TD, "
                                      "or the kernel lacks CONFIG_TSM_REPORTS) and dstack ({}). The simulated "
                                      "provider is never chosen automatically: name it with --provider simulated",
                                      request.tsm_dir, tried));
}

}  // namespace tdxkit
