// The negative corpus: one forged case per verification check, built with the deterministic test
// PKI. Every case asserts the *specific* check that fails (and a phrase of its reason), so removing
// any check from the engine makes its case fail here.

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <functional>

#include <fmt/format.h>

#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/testing.hpp"
#include "tdxkit/verify.hpp"

using namespace tdxkit;
using testing::kDay;
using testing::kReferenceTime;
using testing::Scenario;
using testing::ScenarioOutput;

namespace {

struct Built {
    ScenarioOutput out;
    VerificationReport report;
};

VerificationReport verify_output(const ScenarioOutput& out, UnixTime now = kReferenceTime) {
    return verify_quote(parse_quote(out.quote), out.collateral, {now, custom_trust_root(out.root_der)});
}

Built build(const std::function<void(Scenario&)>& tweak, const std::function<void(ScenarioOutput&)>& tamper = {}) {
    Scenario s;
    if (tweak) tweak(s);
    Built b{s.build(), {}};
    if (tamper) tamper(b.out);
    b.report = verify_output(b.out);
    return b;
}

struct RejectCase {
    const char* name;
    std::function<void(Scenario&)> tweak;
    std::function<void(ScenarioOutput&)> tamper;
    const char* failed_check;
    const char* reason_contains;
};

const testing::Validity kExpired{kReferenceTime - 30 * kDay, kReferenceTime - 1};
const testing::Validity kFuture{kReferenceTime + 1, kReferenceTime + 30 * kDay};

Bytes serial(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24U), static_cast<std::uint8_t>(v >> 16U),
            static_cast<std::uint8_t>(v >> 8U), static_cast<std::uint8_t>(v)};
}

std::string other_root_pem() {
    Scenario other;
    other.seed = "a different test PKI";
    return other.build().root_pem;
}

// The quote's PCK CA certificate with notBefore's month set to 13: the certificate still parses,
// its validity time does not. It comes with the quote, before any signature over it is checked.
void corrupt_ca_not_before(ScenarioOutput& o) {
    auto q = parse_quote(o.quote);
    const std::string chain(q.signature_data.certification.data.begin(), q.signature_data.certification.data.end());
    const auto blocks = split_pem_chain(as_bytes(chain));
    REQUIRE(blocks.size() == 3);
    const std::string& ca_pem = blocks[1];
    const auto body_start = ca_pem.find('\n') + 1;
    const auto body_end = ca_pem.find("-----END");
    std::string body = ca_pem.substr(body_start, body_end - body_start);
    body.erase(std::remove(body.begin(), body.end(), '\n'), body.end());
    auto der = from_base64(body);
    // The first UTCTime (tag 0x17, 13 bytes "YYMMDDhhmmssZ") is notBefore.
    constexpr std::array<std::uint8_t, 2> kUtcTimeHeader{0x17, 0x0d};
    const auto time = std::search(der.begin(), der.end(), kUtcTimeHeader.begin(), kUtcTimeHeader.end());
    REQUIRE(time != der.end());
    const auto month = static_cast<std::size_t>(time - der.begin()) + 4;
    der[month] = '1';
    der[month + 1] = '3';
    std::string wrapped;
    const auto encoded = to_base64(der);
    for (std::size_t i = 0; i < encoded.size(); i += 64) wrapped += encoded.substr(i, 64) + "\n";
    std::string patched = chain;
    patched.replace(patched.find(ca_pem), ca_pem.size(),
                    ca_pem.substr(0, body_start) + wrapped + ca_pem.substr(body_end));
    q.signature_data.certification.data.assign(patched.begin(), patched.end());
    o.quote = serialize_quote(q);
}

const std::vector<RejectCase>& reject_cases() {
    // One case per line reads as a table.
    // clang-format off
    static const std::vector<RejectCase> cases = {
        // Signatures
        {"quote signed by another key", [](Scenario& s) { s.quote.signing_key = "rogue"; }, {}, "quote_signature", "attestation key"},
        {"report data changed after signing", {}, [](ScenarioOutput& o) { o.quote[48 + 520] ^= 1U; }, "quote_signature", "modified"},
        {"QE report signed by another key", [](Scenario& s) { s.quote.qe_report_signing_key = "rogue"; }, {}, "qe_report_signature", "PCK"},
        {"TCB Info signed by another key", [](Scenario& s) { s.tcb_info.signing_key = "rogue"; }, {}, "tcb_info_signature", "signature"},
        {"TCB Info edited after signing", {}, [](ScenarioOutput& o) { o.collateral.tcb_info.replace(o.collateral.tcb_info.find("UpToDate"), 8, "UpToDatf"); }, "tcb_info_signature", "modified"},
        {"QE Identity signed by another key", [](Scenario& s) { s.qe_identity.signing_key = "rogue"; }, {}, "qe_identity_signature", "signature"},
        {"QE Identity edited after signing", {}, [](ScenarioOutput& o) { o.collateral.qe_identity.back() = ' '; }, "qe_identity_signature", "modified"},
        {"root CA CRL signed by another key", [](Scenario& s) { s.root_crl.signing_key = "rogue"; }, {}, "root_ca_crl", "signature"},
        {"PCK CRL signed by another key", [](Scenario& s) { s.pck_crl.signing_key = "rogue"; }, {}, "pck_crl", "signature"},
        // Chain links
        {"PCK leaf signed by another key", [](Scenario& s) { s.pck.cert.signing_key = "rogue"; }, {}, "pck_chain", "signature of certificate"},
        {"PCK platform CA signed by another key", [](Scenario& s) { s.platform_ca.signing_key = "rogue"; }, {}, "pck_chain", "signature of certificate"},
        {"TCB Signing certificate signed by another key", [](Scenario& s) { s.tcb_signing.signing_key = "rogue"; }, {}, "tcb_info_chain", "signature of certificate"},
        {"quote's PCK chain ends at another root", {}, [](ScenarioOutput& o) {
             auto q = parse_quote(o.quote);
             const std::string chain(q.signature_data.certification.data.begin(), q.signature_data.certification.data.end());
             const auto root_at = chain.find("-----BEGIN CERTIFICATE-----", chain.find("-----END CERTIFICATE-----", chain.find("-----END CERTIFICATE-----") + 1));
             const auto replaced = chain.substr(0, root_at) + other_root_pem();
             q.signature_data.certification.data.assign(replaced.begin(), replaced.end());
             o.quote = serialize_quote(q);
         }, "pck_chain_root", "not the trust root"},
        {"TCB Info issuer chain ends at another root", {}, [](ScenarioOutput& o) {
             const auto& c = o.collateral.tcb_info_issuer_chain;
             o.collateral.tcb_info_issuer_chain = c.substr(0, c.find("-----END CERTIFICATE-----") + 26) + other_root_pem();
         }, "tcb_info_chain", "not at the trust root"},
        {"PCK CA certificate with an unreadable notBefore", {}, corrupt_ca_not_before, "pck_chain", "time"},
        {"no PCK chain at all", [](Scenario& s) {
             s.quote.certification_type = static_cast<std::uint16_t>(CertDataType::ppid_rsa3072);
             s.quote.certification_data = Bytes(384, 0xAB);
         }, {}, "pck_chain_present", "no PCK certificate chain"},
        // Revocation
        {"revoked PCK leaf", [](Scenario& s) { s.pck_crl.revoked_serials.push_back(serial(0x7E570100)); }, {}, "pck_chain", "REVOKED"},
        {"revoked PCK platform CA", [](Scenario& s) { s.root_crl.revoked_serials.push_back(serial(0x7E570002)); }, {}, "pck_chain", "REVOKED"},
        {"revoked TCB Signing certificate", [](Scenario& s) { s.root_crl.revoked_serials.push_back(serial(0x7E570004)); }, {}, "tcb_info_chain", "REVOKED"},
        {"PCK CRL of the other CA", [](Scenario& s) { s.pck_crl_issuer = PckCaType::processor; }, {}, "pck_crl", "issued by"},
        // Time
        {"expired PCK leaf", [](Scenario& s) { s.pck.cert.validity = kExpired; }, {}, "pck_chain", "has expired"},
        {"PCK leaf not yet valid", [](Scenario& s) { s.pck.cert.validity = kFuture; }, {}, "pck_chain", "not yet valid"},
        {"expired PCK platform CA", [](Scenario& s) { s.platform_ca.validity = kExpired; }, {}, "pck_chain", "has expired"},
        {"expired TCB Signing certificate", [](Scenario& s) { s.tcb_signing.validity = kExpired; }, {}, "tcb_info_chain", "has expired"},
        {"expired root CA CRL", [](Scenario& s) { s.root_crl.validity = kExpired; }, {}, "root_ca_crl", "has expired"},
        {"root CA CRL not yet valid", [](Scenario& s) { s.root_crl.validity = kFuture; }, {}, "root_ca_crl", "not yet valid"},
        {"expired PCK CRL", [](Scenario& s) { s.pck_crl.validity = kExpired; }, {}, "pck_crl", "has expired"},
        {"PCK CRL not yet valid", [](Scenario& s) { s.pck_crl.validity = kFuture; }, {}, "pck_crl", "not yet valid"},
        {"expired TCB Info", [](Scenario& s) { s.tcb_info.validity = kExpired; }, {}, "tcb_info_validity", "expired"},
        {"TCB Info issued in the future", [](Scenario& s) { s.tcb_info.validity = kFuture; }, {}, "tcb_info_validity", "not yet valid"},
        {"expired QE Identity", [](Scenario& s) { s.qe_identity.validity = kExpired; }, {}, "qe_identity_validity", "expired"},
        {"QE Identity issued in the future", [](Scenario& s) { s.qe_identity.validity = kFuture; }, {}, "qe_identity_validity", "not yet valid"},
        // Collateral for another platform or TEE
        {"FMSPC mismatch", [](Scenario& s) { s.tcb_info.fmspc = Octets<6>{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00}; }, {}, "fmspc_match", "00806f050000"},
        {"PCE-ID mismatch", [](Scenario& s) { s.tcb_info.pce_id = Octets<2>{0x01, 0x00}; }, {}, "pce_id_match", "PCE-ID mismatch"},
        {"SGX TCB Info for a TDX quote", [](Scenario& s) { s.tcb_info.id = "SGX"; }, {}, "tcb_info_format", "expected \"TDX\""},
        {"TCB Info version 2", [](Scenario& s) { s.tcb_info.version = 2; }, {}, "tcb_info_format", "version"},
        {"TCB Info tcbType 1 (only 0 is defined)", [](Scenario& s) { s.tcb_info.tcb_type = 1; }, {}, "tcb_info_format", "tcbType is 1; only tcbType 0 is defined"},
        {"TCB Info with a duplicated key", [](Scenario& s) { s.tcb_info.edit_body = [](std::string& b) { b.insert(1, "\"tcbType\":0,"); }; }, {}, "tcb_info_format", "duplicate key \"tcbType\""},
        {"SGX QE Identity for a TDX quote", [](Scenario& s) { s.qe_identity.id = "QE"; }, {}, "qe_identity_format", "expected \"TD_QE\""},
        // Quoting enclave
        {"QE vendor is not Intel", [](Scenario& s) { s.quote.header.qe_vendor_id[0] ^= 1U; }, {}, "qe_vendor_id", "not produced by Intel"},
        {"QE MRSIGNER mismatch", [](Scenario& s) { s.quote.qe_report.mr_signer[5] ^= 1U; }, {}, "qe_mrsigner", "MRSIGNER mismatch"},
        {"QE ISVPRODID mismatch", [](Scenario& s) { s.quote.qe_report.isv_prod_id = 1; }, {}, "qe_isvprodid", "ISVPRODID mismatch"},
        {"QE MISCSELECT mismatch", [](Scenario& s) { s.quote.qe_report.misc_select = 1; }, {}, "qe_miscselect", "MISCSELECT mismatch"},
        {"debug QE (ATTRIBUTES)", [](Scenario& s) { s.quote.qe_report.attributes[0] |= 0x02U; }, {}, "qe_attributes", "ATTRIBUTES mismatch"},
        {"QE report data does not bind the attestation key", [](Scenario& s) { s.quote.qe_report_data = Octets<64>{}; }, {}, "qe_report_data", "does not bind"},
        {"QE report data upper half not zero", {}, {}, "qe_report_data", "does not bind"},  // filled in below
        // TDX module
        {"unknown TDX module version", [](Scenario& s) { s.quote.td_body.tee_tcb_svn[1] = 7; }, {}, "tdx_module_identity", "TDX_07"},
        {"MRSIGNERSEAM not Intel's", [](Scenario& s) { s.quote.td_body.mr_signer_seam[0] = 1; }, {}, "tdx_mrsignerseam", "MRSIGNERSEAM mismatch"},
        {"SEAMATTRIBUTES set", [](Scenario& s) { s.quote.td_body.seam_attributes[0] = 1; }, {}, "tdx_seam_attributes", "SEAMATTRIBUTES mismatch"},
        // TCB levels that do not exist
        {"platform below every TCB level", [](Scenario& s) { s.pck.extension.pcesvn = 4; }, {}, "platform_tcb_level", "TCB_NOT_SUPPORTED"},
        {"QE below every TCB level", [](Scenario& s) { s.quote.qe_report.isv_svn = 1; }, {}, "qe_tcb_level", "ISVSVN 1"},
        {"TDX module below every TCB level", [](Scenario& s) { s.quote.td_body.tee_tcb_svn[0] = 1; }, {}, "tdx_module_tcb_level", "update the TDX module"},
    };
    // clang-format on
    return cases;
}

}  // namespace

TEST_CASE("the default simulated scenario verifies, and only with its own root") {
    const auto b = build({});
    CHECK(b.report.authentic);
    CHECK(b.report.tcb_status == TcbStatus::up_to_date);
    CHECK(b.report.failure.empty());
    const auto with_intel =
        verify_quote(parse_quote(b.out.quote), b.out.collateral, {kReferenceTime, intel_sgx_root_ca()});
    CHECK_FALSE(with_intel.authentic);
    CHECK(with_intel.failed_check == "root_ca_crl");
    CHECK_FALSE(custom_trust_root(b.out.root_der).is_intel_production);

    Scenario other;
    other.seed = "a different test PKI";
    const auto wrong_root = verify_quote(parse_quote(b.out.quote), b.out.collateral,
                                         {kReferenceTime, custom_trust_root(other.build().root_der)});
    CHECK_FALSE(wrong_root.authentic);
    CHECK(wrong_root.failed_check == "root_ca_crl");
}

TEST_CASE("negative corpus: each forged case fails its own check") {
    std::size_t count = 0;
    for (const auto& c : reject_cases()) {
        const std::string name = c.name;
        CAPTURE(name);
        Built b = name == "QE report data upper half not zero" ? build([](Scenario& s) {
            Scenario plain;
            const auto q = parse_quote(plain.build().quote);
            Octets<64> data = q.signature_data.qe_report.report_data;
            data[63] = 1;
            s.quote.qe_report_data = data;
        })
                                                               : build(c.tweak, c.tamper);
        CHECK_FALSE(b.report.authentic);
        CHECK(b.report.failed_check == c.failed_check);
        CHECK_MESSAGE(b.report.failure.find(c.reason_contains) != std::string::npos, b.report.failure);
        REQUIRE_FALSE(b.report.checks.empty());
        CHECK_FALSE(b.report.checks.back().passed);
        ++count;
    }
    CHECK(count >= 40);
}

TEST_CASE("a shared verification cache never carries a pass over to a forged case") {
    VerificationCache cache;
    const auto verify_cached = [&](const ScenarioOutput& out) {
        return verify_quote(parse_quote(out.quote), out.collateral,
                            {kReferenceTime, custom_trust_root(out.root_der), &cache});
    };
    const auto good = Scenario().build();
    REQUIRE(verify_cached(good).authentic);
    for (const auto& c : reject_cases()) {
        if (!c.tweak && !c.tamper) continue;
        const std::string name = c.name;
        CAPTURE(name);
        Scenario s;
        if (c.tweak) c.tweak(s);
        auto out = s.build();
        if (c.tamper) c.tamper(out);
        const auto r = verify_cached(out);
        CHECK_FALSE(r.authentic);
        CHECK(r.failed_check == c.failed_check);
        // And the good quote still passes afterwards: failures are not cached as passes either way.
        CHECK(verify_cached(good).authentic);
    }
}

TEST_CASE("TCB statuses are results, converged as Intel's QVL does") {
    struct StatusCase {
        const char* name;
        std::function<void(Scenario&)> tweak;
        TcbStatus expected;
    };
    // One case per line reads as a table.
    // clang-format off
    const std::vector<StatusCase> cases = {
        {"platform one level behind", [](Scenario& s) { s.pck.extension.pcesvn = 6; }, TcbStatus::out_of_date},
        {"QE one level behind", [](Scenario& s) { s.quote.qe_report.isv_svn = 3; }, TcbStatus::out_of_date},
        {"TDX module one level behind", [](Scenario& s) { s.quote.td_body.tee_tcb_svn[0] = 3; }, TcbStatus::out_of_date},
        {"SWHardeningNeeded", [](Scenario& s) { s.tcb_info.tcb_levels[0].tcb_status = "SWHardeningNeeded"; }, TcbStatus::sw_hardening_needed},
        {"ConfigurationNeeded", [](Scenario& s) { s.tcb_info.tcb_levels[0].tcb_status = "ConfigurationNeeded"; }, TcbStatus::configuration_needed},
        {"ConfigurationAndSWHardeningNeeded", [](Scenario& s) { s.tcb_info.tcb_levels[0].tcb_status = "ConfigurationAndSWHardeningNeeded"; }, TcbStatus::configuration_and_sw_hardening_needed},
        {"OutOfDateConfigurationNeeded", [](Scenario& s) { s.tcb_info.tcb_levels[0].tcb_status = "OutOfDateConfigurationNeeded"; }, TcbStatus::out_of_date_configuration_needed},
        {"platform Revoked", [](Scenario& s) { s.tcb_info.tcb_levels[0].tcb_status = "Revoked"; }, TcbStatus::revoked},
        {"QE Revoked", [](Scenario& s) { s.qe_identity.tcb_levels[0].tcb_status = "Revoked"; }, TcbStatus::revoked},
        {"module Revoked", [](Scenario& s) { s.tcb_info.tdx_module_identities->at(1).tcb_levels[0].tcb_status = "Revoked"; }, TcbStatus::revoked},
        // Intel keeps "configuration needed" when the QE is out of date; dcap-qvl would say OutOfDate.
        {"ConfigurationNeeded platform with an out-of-date QE",
         [](Scenario& s) {
             s.tcb_info.tcb_levels[0].tcb_status = "ConfigurationNeeded";
             s.quote.qe_report.isv_svn = 3;
         },
         TcbStatus::out_of_date_configuration_needed},
    };
    // clang-format on
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        const auto b = build(c.tweak);
        CHECK(b.report.authentic);
        REQUIRE(b.report.tcb_status.has_value());
        CHECK(tcb_status_name(*b.report.tcb_status) == std::string(tcb_status_name(c.expected)));
        // Only UpToDate passes the default policy.
        const auto verdict = evaluate_policy(default_policy(), parse_quote(b.out.quote), b.report, kReferenceTime);
        CHECK_FALSE(verdict.satisfied);
    }
}

TEST_CASE("a tcbStatus Intel does not define is a failed check, not an exception") {
    const auto platform = build([](Scenario& s) { s.tcb_info.tcb_levels[0].tcb_status = "MostlyFine"; });
    CHECK_FALSE(platform.report.authentic);
    CHECK(platform.report.failed_check == "tcb_status");
    CHECK(platform.report.failure.find("unknown tcbStatus \"MostlyFine\"") != std::string::npos);
    CHECK_FALSE(platform.report.tcb_status.has_value());

    const auto qe = build([](Scenario& s) { s.qe_identity.tcb_levels[0].tcb_status = "MostlyFine"; });
    CHECK_FALSE(qe.report.authentic);
    CHECK(qe.report.failed_check == "tcb_status");
}

TEST_CASE("the shortfall names what to update") {
    const auto b = build([](Scenario& s) {
        s.pck.extension.pcesvn = 6;
        s.quote.td_body.tee_tcb_svn[0] = 3;
    });
    REQUIRE(b.report.tcb_status == TcbStatus::out_of_date);
    bool pcesvn = false;
    bool module = false;
    for (const auto& s : b.report.shortfall) {
        if (s.component == "PCESVN") pcesvn = s.actual == 6 && s.required == 11 && s.next_level_status == "UpToDate";
        if (s.component.find("TDX module TDX_01") != std::string::npos) module = s.actual == 3 && s.required == 4;
    }
    CHECK(pcesvn);
    CHECK(module);
    CHECK(b.report.outdated_since.has_value());
}

TEST_CASE("TD 1.5: out of date at launch, current after an in-place update -> TDRelaunchAdvised") {
    Scenario s = Scenario::tdx_v5();
    s.quote.td_body.tee_tcb_svn[0] = 3;                  // launched with module SVN 3 (OutOfDate)
    s.quote.td_body.tee_tcb_svn2 = Octets<16>{5, 1, 2};  // now running SVN 5 (UpToDate)
    const auto out = s.build();
    const auto r = verify_output(out);
    CHECK(r.authentic);
    CHECK(r.td_launch_status == TcbStatus::out_of_date);
    CHECK(r.td_current_status == TcbStatus::up_to_date);
    CHECK(r.tcb_status == TcbStatus::td_relaunch_advised);

    s.tcb_info.tcb_levels[0].tcb_status = "ConfigurationNeeded";
    const auto r2 = verify_output(s.build());
    CHECK(r2.tcb_status == TcbStatus::td_relaunch_advised_configuration_needed);

    Scenario plain = Scenario::tdx_v5();
    CHECK(verify_output(plain.build()).tcb_status == TcbStatus::up_to_date);
}

TEST_CASE("SGX v3 and processor-CA platforms verify") {
    CHECK(verify_output(Scenario::sgx_v3().build()).authentic);
    Scenario s;
    s.use_processor_ca();
    const auto r = verify_output(s.build());
    CHECK(r.authentic);
    CHECK(r.pck_ca_type == "processor");
}

TEST_CASE("a debug TD is authentic but refused by the default policy") {
    const auto b = build([](Scenario& s) { s.quote.td_body.td_attributes[0] |= 0x01U; });
    CHECK(b.report.authentic);
    const auto verdict = evaluate_policy(default_policy(), parse_quote(b.out.quote), b.report, kReferenceTime);
    CHECK_FALSE(verdict.satisfied);
    REQUIRE_FALSE(verdict.violations.empty());
    CHECK(verdict.violations.front().path.find("debug") != std::string::npos);
}

TEST_CASE("verification time: inclusive window of the simulated collateral") {
    const auto out = Scenario().build();
    CHECK(verify_output(out, kReferenceTime - 15 * kDay).authentic);
    CHECK(verify_output(out, kReferenceTime + 15 * kDay).authentic);
    CHECK_FALSE(verify_output(out, kReferenceTime - 15 * kDay - 1).authentic);
    CHECK_FALSE(verify_output(out, kReferenceTime + 15 * kDay + 1).authentic);
}
