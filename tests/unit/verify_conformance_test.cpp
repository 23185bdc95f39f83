// Verification against real Intel-signed quotes and collateral (testdata/real): every
// pairing in MANIFEST.json gives its listed outcome, time boundaries are enforced to the second,
// and every single-byte change of a signed input is rejected.

#include <doctest/doctest.h>

#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/verify.hpp"

using namespace tdxkit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Pairing {
    json entry;
    Quote quote;
    Collateral collateral;
    UnixTime at = 0;
};

Collateral collateral_for(const fs::path& data, const json& p) {
    // Cross-source pairings name their files one by one; load those, not a directory.
    Collateral c;
    const auto& f = p.at("collateral_files");
    const auto text = [&](const char* key) { return test::read_text(data / f.at(key).get<std::string>()); };
    const auto tcb = extract_signed_body(text("tcb_info"), "tcbInfo");
    const auto qe = extract_signed_body(text("qe_identity"), "enclaveIdentity");
    c.tcb_info = tcb.body;
    c.tcb_info_signature = tcb.signature;
    c.qe_identity = qe.body;
    c.qe_identity_signature = qe.signature;
    c.tcb_info_issuer_chain = text("tcb_info_issuer_chain");
    c.qe_identity_issuer_chain = text("qe_identity_issuer_chain");
    c.pck_crl_issuer_chain = text("pck_crl_issuer_chain");
    c.pck_crl = normalize_crl(test::read_file(data / f.at("pck_crl").get<std::string>()), "pck_crl");
    c.root_ca_crl = normalize_crl(test::read_file(data / f.at("root_ca_crl").get<std::string>()), "root_ca_crl");
    c.source = p.at("collateral").get<std::string>();
    return c;
}

std::vector<Pairing> pairings() {
    const auto data = test::real_testdata();
    const auto manifest = json::parse(test::read_text(data / "MANIFEST.json"));
    std::vector<Pairing> out;
    for (const auto& p : manifest.at("verification_pairings")) {
        Pairing pr;
        pr.entry = p;
        pr.quote = parse_quote(test::read_file(data / p.at("quote").get<std::string>()));
        pr.collateral = collateral_for(data, p);
        pr.at = parse_time(p.at("verified_at").get<std::string>());
        out.push_back(std::move(pr));
    }
    return out;
}

VerificationReport run(const Pairing& p, UnixTime at) {
    return verify_quote(p.quote, p.collateral, {at, intel_sgx_root_ca()});
}
VerificationReport run(const Quote& q, const Collateral& c, UnixTime at) {
    return verify_quote(q, c, {at, intel_sgx_root_ca()});
}

const Pairing& reference_pairing(const std::vector<Pairing>& all) {
    for (const auto& p : all) {
        if (p.entry.at("quote") == "quotes/dcapqvl-tdx_quote.bin" &&
            p.entry.at("collateral") == "collateral/dcapqvl-tdx_quote") {
            return p;
        }
    }
    FAIL("reference pairing missing from MANIFEST.json");
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("every MANIFEST pairing gives its listed status, advisories or failure") {
    const auto all = pairings();
    REQUIRE(all.size() >= 18);
    for (const auto& p : all) {
        const auto& e = p.entry;
        CAPTURE(e.at("quote").get<std::string>());
        CAPTURE(e.at("verified_at").get<std::string>());
        const auto r = run(p, p.at);
        if (e.at("all_checks_pass").get<bool>()) {
            CHECK(r.authentic);
            CHECK(r.failure == "");
            REQUIRE(r.tcb_status.has_value());
            CHECK(std::string(tcb_status_name(*r.tcb_status)) == e.at("tcb_status").get<std::string>());
            CHECK(r.advisory_ids == e.at("advisory_ids").get<std::vector<std::string>>());
            if (e.contains("platform_tcb_level") && r.platform_level) {
                CHECK(r.platform_level->tcb_date == e["platform_tcb_level"].at("tcbDate").get<std::string>());
            }
            // MANIFEST's "isvsvn" is the quote's own SVN that selected the level.
            if (e.contains("tdx_module_tcb_level")) {
                REQUIRE(r.tdx_module_level.has_value());
                const auto& m = e["tdx_module_tcb_level"];
                CHECK(r.tdx_module_level->module_id == m.at("id").get<std::string>());
                CHECK(r.tdx_module_level->status == m.at("tcbStatus").get<std::string>());
                CHECK(p.quote.td_body()->tee_tcb_svn[0] == m.at("isvsvn").get<std::uint32_t>());
            }
            if (e.contains("qe_tcb_level")) {
                REQUIRE(r.qe_level.has_value());
                const auto& q = e["qe_tcb_level"];
                CHECK(r.qe_level->tcb_date == q.at("tcbDate").get<std::string>());
                CHECK(r.qe_level->status == q.at("tcbStatus").get<std::string>());
                CHECK(p.quote.signature_data.qe_report.isv_svn == q.at("isvsvn").get<std::uint32_t>());
            }
        } else {
            CHECK_FALSE(r.authentic);
            const auto errors = e.at("errors").dump();
            if (errors.find("TCB_NOT_SUPPORTED") != std::string::npos) {
                CHECK(r.failed_check == "platform_tcb_level");
                CHECK(r.failure.find("TCB_NOT_SUPPORTED") != std::string::npos);
            } else {
                // Collateral not valid at the pinned time: the first expired item is named.
                CHECK(r.failure.find("expired") != std::string::npos);
            }
        }
    }
}

TEST_CASE("a verification cache shared by all pairings gives the same reports") {
    const auto all = pairings();
    VerificationCache cache;
    for (int round = 0; round < 2; ++round) {
        for (const auto& p : all) {
            CAPTURE(p.entry.at("quote").get<std::string>());
            const auto plain = run(p, p.at);
            const auto cached = verify_quote(p.quote, p.collateral, {p.at, intel_sgx_root_ca(), &cache});
            CHECK(cached.authentic == plain.authentic);
            CHECK(cached.failed_check == plain.failed_check);
            CHECK(cached.failure == plain.failure);
            CHECK(cached.tcb_status == plain.tcb_status);
            CHECK(cached.advisory_ids == plain.advisory_ids);
            CHECK(cached.checks.size() == plain.checks.size());
        }
    }
}

TEST_CASE("collateral is enforced to the second at both ends of its validity window") {
    const auto all = pairings();
    for (const auto& p : all) {
        if (!p.entry.at("all_checks_pass").get<bool>()) continue;
        CAPTURE(p.entry.at("quote").get<std::string>());
        CAPTURE(p.entry.at("collateral").get<std::string>());
        const auto start = parse_time(p.entry.at("window_start").at("time").get<std::string>());
        const auto end = parse_time(p.entry.at("window_end").at("time").get<std::string>());
        CHECK(run(p, start).authentic);
        CHECK(run(p, end).authentic);
        const auto before = run(p, start - 1);
        CHECK_FALSE(before.authentic);
        CHECK(before.failure.find("not yet valid") != std::string::npos);
        const auto after = run(p, end + 1);
        CHECK_FALSE(after.authentic);
        CHECK(after.failure.find("expired") != std::string::npos);
    }
}

TEST_CASE("every single-byte change of a signed input is rejected") {
    const auto all = pairings();
    const auto& p = reference_pairing(all);
    REQUIRE(run(p, p.at).authentic);

    // The quote's signed region (header + body) and the QE report with its signature, byte by byte.
    // A flip that makes the quote unparseable is rejected too, reported as the parse failure.
    const auto flip_quote = [&](std::size_t offset) {
        Bytes raw = p.quote.raw;
        raw[offset] ^= 0x01;
        try {
            return run(parse_quote(raw), p.collateral, p.at);
        } catch (const Error& e) {
            VerificationReport r;
            r.failed_check = "parse";
            r.failure = e.what();
            return r;
        }
    };
    std::map<std::string, int> failures;
    for (std::size_t i = 0; i < p.quote.signed_length(); ++i) {
        const auto r = flip_quote(i);
        CHECK_MESSAGE(!r.authentic, "signed region byte ", i);
        ++failures[r.failed_check];
    }
    // QE report at 770, its signature at 1154 (reference A.4, v4 absolute offsets).
    for (std::size_t i = 770; i < 770 + 384 + 64; ++i) {
        const auto r = flip_quote(i);
        CHECK_MESSAGE(!r.authentic, "QE report / signature byte ", i);
        ++failures[r.failed_check];
    }
    CHECK(failures["quote_signature"] > 0);
    CHECK(failures["qe_report_signature"] > 0);

    for (std::size_t i = 0; i < p.collateral.tcb_info.size(); ++i) {
        auto c = p.collateral;
        c.tcb_info[i] = static_cast<char>(c.tcb_info[i] ^ 0x01);
        const auto r = run(p.quote, c, p.at);
        CHECK_MESSAGE(r.failed_check == "tcb_info_signature", "TCB Info byte ", i);
    }
    for (std::size_t i = 0; i < p.collateral.qe_identity.size(); ++i) {
        auto c = p.collateral;
        c.qe_identity[i] = static_cast<char>(c.qe_identity[i] ^ 0x01);
        const auto r = run(p.quote, c, p.at);
        CHECK_MESSAGE(r.failed_check == "qe_identity_signature", "QE Identity byte ", i);
    }
    for (std::size_t i = 0; i < 64; ++i) {
        auto c = p.collateral;
        c.tcb_info_signature[i] ^= 0x01;
        CHECK(run(p.quote, c, p.at).failed_check == "tcb_info_signature");
        c = p.collateral;
        c.qe_identity_signature[i] ^= 0x01;
        CHECK(run(p.quote, c, p.at).failed_check == "qe_identity_signature");
    }
}

TEST_CASE("Intel's production root is pinned and required by default") {
    const auto root = intel_sgx_root_ca();
    CHECK(root.is_intel_production);
    CHECK(to_hex(sha256(root.certificate_der)) == "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
    const auto data = test::real_testdata();
    CHECK(custom_trust_root(test::read_file(data / "roots/intel-sgx-root-ca.pem")).is_intel_production);
}
