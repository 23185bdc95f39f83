#include "support/serve_evidence.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "tdxkit/quote.hpp"
#include "tdxkit/testing.hpp"

namespace tdxkit::test {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

LiteEvidence build() {
    const std::filesystem::path real_dir{TDXKIT_REAL_TESTDATA};
    LiteEvidence e;
    e.real = decode_dstack_attestation(
        from_hex(read_json(real_dir / "attestations/dstack-verifier-tdx-lite-attestation.json")["attestation"]
                     .get<std::string>(),
                 "attestation"));
    e.real_getquote = read_json(real_dir / "eventlogs/dstack-verifier-tdx-lite-getquote.json");
    const auto real_quote = parse_quote(e.real.quote);
    const auto* real_td = real_quote.td_body();
    if (real_td == nullptr) throw std::runtime_error("the real lite quote has no TD body");

    // The registers dstack reads (and the ones mr_aggregated covers) come from the real quote; the
    // platform's own fields (TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES) stay the scenario's,
    // so that its collateral gives the TCB status UpToDate.
    testing::Scenario s;
    auto& td = s.quote.td_body;
    td.mr_td = real_td->mr_td;
    td.rtmr = real_td->rtmr;
    td.report_data = real_td->report_data;
    td.mr_config_id = real_td->mr_config_id;
    td.mr_owner = real_td->mr_owner;
    td.mr_owner_config = real_td->mr_owner_config;
    td.td_attributes = real_td->td_attributes;
    td.xfam = real_td->xfam;
    e.quote = s.build().quote;
    e.ppid = s.pck.extension.ppid;
    e.attestation = encode_dstack_attestation(e.quote, e.real.event_log, e.real.report_data, e.real.config);
    return e;
}

}  // namespace

std::string LiteEvidence::attestation_request() const {
    return nlohmann::json{{"attestation", to_hex(attestation)}}.dump();
}

std::string LiteEvidence::quote_request() const {
    return nlohmann::json{
        {"quote", to_hex(quote)}, {"event_log", real_getquote["event_log"]}, {"vm_config", real_getquote["vm_config"]}}
        .dump();
}

const LiteEvidence& lite_evidence() {
    static const LiteEvidence evidence = build();
    return evidence;
}

}  // namespace tdxkit::test
