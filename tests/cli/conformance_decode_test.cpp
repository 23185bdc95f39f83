// Conformance: `tdxkit quote decode --json` on every quote of shared/testdata/MANIFEST.json must
// report exactly the values of the independent extraction recorded there.
//
// Name mapping MANIFEST -> tdxkit.quote/v1:
//   version, tee_type, qe_vendor_id         -> header.{version, tee_type, qe_vendor_id}
//   att_key_type "ECDSA-256-with-P-256"     -> header.attestation_key_type == 2
//   body_kind / body_descriptor             -> body.{type, size}
//   body.<field>                            -> body.<field> (misc_select: "0x" prefix in MANIFEST)
//   cert_data_type                          -> v3: signature_data.certification_data.type;
//                                              v4/v5: 6 (the parser requires it), inner type 5
//   qe_report.<field>                       -> signature_data.qe_report.<field>
//   pck.{fmspc, pceid, pcesvn, cpusvn, sgx_tcb_comp_svns, sgx_type}
//                                           -> pck.{fmspc, pce_id, pcesvn, cpusvn, sgx_tcb_components, sgx_type}
//   pck.{subject, issuer, not_before, not_after}, pck_chain[i] -> pck_chain[i] (names compared as RDN sets:
//                                              MANIFEST uses RFC 4514 order, tdxkit OpenSSL's)
//   signed_region_len                       -> signed_region_length
//   signature_data_len                      -> signature_data.length
//   trailing_bytes_after_quote              -> input.trailing_bytes
//   size                                    -> input.quote_size + input.trailing_bytes
//   input_format "binary"                   -> input.format "raw"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using namespace tdxkit;
using nlohmann::json;

namespace {

using tdxkit::test::manifest;
using tdxkit::test::rdns;

json decode(const std::string& rel) {
    const auto r = test::run_tdxkit({"--json", "quote", "decode", (test::real_testdata() / rel).string()});
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
}

void check_certificate(const json& actual, const json& expected) {
    CHECK(rdns(actual.at("subject").get<std::string>()) == rdns(expected.at("subject").get<std::string>()));
    CHECK(rdns(actual.at("issuer").get<std::string>()) == rdns(expected.at("issuer").get<std::string>()));
    CHECK(actual.at("not_before") == expected.at("not_before"));
    CHECK(actual.at("not_after") == expected.at("not_after"));
    if (expected.contains("sha256")) CHECK(actual.at("sha256") == expected.at("sha256"));
}

// Compares one decoded document with one MANIFEST quote entry; `container_checks` is false when the
// document comes from a text sibling (hex / JSON) of the binary file the entry describes.
void check_entry(const json& doc, const json& m, bool container_checks) {
    static const std::set<std::string> kHandled = {"file",
                                                   "input_format",
                                                   "size",
                                                   "sha256_of_decoded_quote",
                                                   "version",
                                                   "tee_type",
                                                   "att_key_type",
                                                   "qe_vendor_id",
                                                   "body_kind",
                                                   "body_descriptor",
                                                   "signed_region_len",
                                                   "signature_data_len",
                                                   "trailing_bytes_after_quote",
                                                   "body",
                                                   "cert_data_type",
                                                   "qe_report",
                                                   "pck",
                                                   "pck_chain"};
    for (const auto& [key, value] : m.items()) {
        CAPTURE(key);
        CHECK(kHandled.count(key) == 1);  // a new MANIFEST field needs a mapping here
    }
    CHECK(doc.at("schema") == "tdxkit.quote/v1");

    const auto& header = doc.at("header");
    CHECK(header.at("version") == m.at("version"));
    CHECK(header.at("tee_type") == m.at("tee_type"));
    REQUIRE(m.at("att_key_type") == "ECDSA-256-with-P-256");
    CHECK(header.at("attestation_key_type") == 2);
    CHECK(header.at("qe_vendor_id") == m.at("qe_vendor_id"));

    const auto& input = doc.at("input");
    CHECK(input.at("trailing_bytes") == m.at("trailing_bytes_after_quote"));
    CHECK(input.at("quote_size").get<std::size_t>() + input.at("trailing_bytes").get<std::size_t>() ==
          m.at("size").get<std::size_t>());
    if (container_checks) {
        REQUIRE(m.at("input_format") == "binary");
        CHECK(input.at("format") == "raw");
        CHECK(input.at("container") == "raw");
    }

    const auto& body = doc.at("body");
    const auto kind = m.at("body_kind").get<std::string>();
    const int expected_type = kind == "SGX_enclave_report" ? 1
                              : kind == "TD10_report"      ? 2
                              : kind == "TD15_report"      ? 3
                                                           : -1;
    REQUIRE(expected_type > 0);
    CHECK(body.at("type") == expected_type);
    CHECK(body.at("size") == (expected_type == 1 ? 384 : expected_type == 2 ? 584 : 648));
    if (m.contains("body_descriptor")) {
        CHECK(body.at("type") == m["body_descriptor"].at("body_type"));
        CHECK(body.at("size") == m["body_descriptor"].at("body_size"));
    }
    for (const auto& [key, value] : m.at("body").items()) {
        CAPTURE(key);
        REQUIRE(body.contains(key));
        if (key == "misc_select") {
            CHECK("0x" + body.at(key).get<std::string>() == value.get<std::string>());
        } else {
            CHECK(body.at(key) == value);  // hex strings, integers and the decoded TD attribute flags
        }
    }

    CHECK(doc.at("signed_region_length") == m.at("signed_region_len"));
    const auto& sig = doc.at("signature_data");
    CHECK(sig.at("length") == m.at("signature_data_len"));
    const auto& cert = sig.at("certification_data");
    if (m.at("version") == 3) {
        CHECK(cert.at("type") == m.at("cert_data_type"));
    } else {
        CHECK(m.at("cert_data_type") == 6);
        CHECK(cert.at("type") == 5);
    }
    for (const auto& [key, value] : m.at("qe_report").items()) {
        CAPTURE(key);
        CHECK(sig.at("qe_report").at(key) == value);
    }

    const auto& pck = doc.at("pck");
    const auto& mp = m.at("pck");
    REQUIRE(pck.is_object());
    CHECK(pck.at("fmspc") == mp.at("fmspc"));
    CHECK(pck.at("pce_id") == mp.at("pceid"));
    CHECK(pck.at("pcesvn") == mp.at("pcesvn"));
    CHECK(pck.at("cpusvn") == mp.at("cpusvn"));
    CHECK(pck.at("sgx_tcb_components") == mp.at("sgx_tcb_comp_svns"));
    CHECK(pck.at("sgx_type") == mp.at("sgx_type"));
    const auto& chain = doc.at("pck_chain");
    REQUIRE(chain.size() == m.at("pck_chain").size());
    REQUIRE(!chain.empty());
    check_certificate(chain[0], mp);
    for (std::size_t i = 0; i < chain.size(); ++i) {
        CAPTURE(i);
        check_certificate(chain[i], m.at("pck_chain")[i]);
    }
    CHECK(chain[0].at("sgx_extension").at("fmspc") == mp.at("fmspc"));
    CHECK(chain[0].at("ca") == false);
}

}  // namespace

TEST_CASE("tdxkit quote decode --json agrees with MANIFEST for every shared quote") {
    const auto& quotes = manifest().at("quotes");
    REQUIRE(quotes.size() == 15);
    for (const auto& m : quotes) {
        const auto file = m.at("file").get<std::string>();
        CAPTURE(file);
        check_entry(decode(file), m, true);
    }
}

TEST_CASE("text containers of the shared quotes decode to the same fields as their binary siblings") {
    // Text file -> the binary file MANIFEST says was derived from it.
    const std::pair<const char*, const char*> siblings[] = {
        {"quotes/dcapqvl-tdx-quote.hex", "quotes/dcapqvl-tdx-quote.bin"},
        {"quotes/dcapqvl-quote-from-tappd.hex", "quotes/dcapqvl-quote-from-tappd.bin"},
        {"quotes/dcapqvl-near-gas-test-quote_hex.txt", "quotes/dcapqvl-near-gas-test-quote.bin"},
        {"quotes/dstack-verifier-quote-report.hex", "quotes/dstack-verifier-quote-report.bin"},
        {"quotes/dstack-verifier-tdx-lite-getquote.hex", "quotes/dstack-verifier-tdx-lite-getquote.bin"},
        {"quotes/nearmpc-head-quote.json", "quotes/nearmpc-head-quote.bin"},
        {"quotes/nearmpc-2026-01-quote.json", "quotes/nearmpc-2026-01-quote.bin"},
        {"eventlogs/dstack-verifier-quote-report.json", "quotes/dstack-verifier-quote-report.bin"},
        {"eventlogs/dstack-verifier-tdx-lite-getquote.json", "quotes/dstack-verifier-tdx-lite-getquote.bin"},
    };
    for (const auto& [text, bin] : siblings) {
        CAPTURE(text);
        const json* entry = nullptr;
        for (const auto& m : manifest().at("quotes")) {
            if (m.at("file") == bin) entry = &m;
        }
        REQUIRE(entry != nullptr);
        check_entry(decode(text), *entry, false);
    }
}
