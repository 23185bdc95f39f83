// PCK certificates of the shared quotes: the SGX extension (FMSPC, PCE-ID, PCESVN, CPUSVN, TCB
// components, SGX type) and certificate summaries, compared with MANIFEST.json `pck` / `pck_chain`.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pcs/pck_internal.hpp"
#include "support/test_support.hpp"
#include "tdxkit/describe.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"
#include "tdxkit/verify.hpp"

using namespace tdxkit;
using nlohmann::json;

namespace {

using tdxkit::test::code_of;
using tdxkit::test::manifest;
using tdxkit::test::rdns;

Quote load_quote(const std::string& file) { return parse_quote(test::read_file(test::real_testdata() / file)); }

// RFC 4514 order ("CN=..., O=..., C=US", MANIFEST) and OpenSSL's oneline order ("C=US,...,CN=...")
// list the same RDNs in reverse: compare as sets of "key=value".
// The DER value of the SGX extension of a certificate, extracted with OpenSSL directly.
Bytes sgx_extension_der(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    REQUIRE(bio != nullptr);
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    REQUIRE(cert != nullptr);
    ASN1_OBJECT* oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    const int idx = X509_get_ext_by_OBJ(cert, oid, -1);
    ASN1_OBJECT_free(oid);
    Bytes out;
    if (idx >= 0) {
        const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
        const unsigned char* p = ASN1_STRING_get0_data(value);
        out.assign(p, p + ASN1_STRING_length(value));
    }
    X509_free(cert);
    return out;
}

Bytes leaf_extension_der(const std::string& file) {
    const Quote q = load_quote(file);
    const auto certs = split_pem_chain(q.signature_data.certification.data);
    return sgx_extension_der(certs.at(0));
}

}  // namespace

TEST_CASE("PCK leaf SGX extension of every shared quote equals MANIFEST pck") {
    for (const auto& m : manifest().at("quotes")) {
        const auto file = m.at("file").get<std::string>();
        CAPTURE(file);
        const auto& expected = m.at("pck");
        const Quote q = load_quote(file);
        const auto chain = detail::quote_pck_chain(q);
        REQUIRE(chain.size() == 3);
        REQUIRE(chain[0].sgx_extension.has_value());
        const auto& ext = *chain[0].sgx_extension;
        CHECK(to_hex(ext.fmspc) == expected.at("fmspc").get<std::string>());
        CHECK(to_hex(ext.pce_id) == expected.at("pceid").get<std::string>());
        CHECK(ext.pcesvn == expected.at("pcesvn").get<int>());
        CHECK(to_hex(ext.cpusvn) == expected.at("cpusvn").get<std::string>());
        const auto comps = expected.at("sgx_tcb_comp_svns").get<std::vector<int>>();
        REQUIRE(comps.size() == 16);
        for (std::size_t i = 0; i < 16; ++i) {
            CAPTURE(i);
            CHECK(ext.sgx_tcb_components[i] == comps[i]);
        }
        CHECK(ext.sgx_type == expected.at("sgx_type").get<std::uint32_t>());
        // The same extension through parse_pck_extension on the raw DER value.
        const auto direct =
            parse_pck_extension(sgx_extension_der(split_pem_chain(q.signature_data.certification.data)[0]));
        CHECK(direct.fmspc == ext.fmspc);
        CHECK(direct.ppid == ext.ppid);
        CHECK(direct.sgx_tcb_components == ext.sgx_tcb_components);

        CHECK(rdns(chain[0].subject) == rdns(expected.at("subject").get<std::string>()));
        CHECK(rdns(chain[0].issuer) == rdns(expected.at("issuer").get<std::string>()));
        CHECK(chain[0].not_before == parse_time(expected.at("not_before").get<std::string>()));
        CHECK(chain[0].not_after == parse_time(expected.at("not_after").get<std::string>()));
        CHECK(chain[0].subject_cn == "Intel SGX PCK Certificate");
        const auto issuer = expected.at("issuer").get<std::string>();
        const auto ca = pck_ca_type(chain[0]);
        if (issuer.find("Platform CA") != std::string::npos) {
            CHECK(ca == PckCaType::platform);
        } else {
            CHECK(issuer.find("Processor CA") != std::string::npos);
            CHECK(ca == PckCaType::processor);
        }
        CHECK_FALSE(chain[0].is_ca);
    }
}

TEST_CASE("PCK chain certificates equal MANIFEST pck_chain (subject, issuer, validity, SHA-256)") {
    for (const auto& m : manifest().at("quotes")) {
        const auto file = m.at("file").get<std::string>();
        CAPTURE(file);
        const auto chain = detail::quote_pck_chain(load_quote(file));
        const auto& expected = m.at("pck_chain");
        REQUIRE(chain.size() == expected.size());
        for (std::size_t i = 0; i < chain.size(); ++i) {
            CAPTURE(i);
            const auto& e = expected[i];
            CHECK(rdns(chain[i].subject) == rdns(e.at("subject").get<std::string>()));
            CHECK(rdns(chain[i].issuer) == rdns(e.at("issuer").get<std::string>()));
            CHECK(format_rfc3339(chain[i].not_before) == e.at("not_before").get<std::string>());
            CHECK(format_rfc3339(chain[i].not_after) == e.at("not_after").get<std::string>());
            CHECK(chain[i].sha256_fingerprint_hex == e.at("sha256").get<std::string>());
            CHECK(to_hex(sha256(chain[i].der)) == e.at("sha256").get<std::string>());
            CHECK(chain[i].is_ca == (i > 0));
            CHECK(chain[i].sgx_extension.has_value() == (i == 0));
        }
    }
}

TEST_CASE("Intel SGX Root CA from roots/ (DER and PEM) matches MANIFEST") {
    const auto dir = test::real_testdata() / "roots";
    std::string expected_sha;
    for (const auto& f : manifest().at("files")) {
        if (f.at("file") == "roots/intel-sgx-root-ca.der") expected_sha = f.at("sha256").get<std::string>();
    }
    REQUIRE(expected_sha == "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
    const auto der = describe_certificate(test::read_file(dir / "intel-sgx-root-ca.der"));
    const auto pem = describe_certificate(test::read_file(dir / "intel-sgx-root-ca.pem"));
    for (const auto* c : {&der, &pem}) {
        CHECK(c->sha256_fingerprint_hex == expected_sha);
        CHECK(c->subject_cn == "Intel SGX Root CA");
        CHECK(c->issuer_cn == "Intel SGX Root CA");
        CHECK(c->is_ca);
        CHECK_FALSE(c->sgx_extension.has_value());
        CHECK(format_rfc3339(c->not_before) == "2018-05-21T10:45:10Z");
        CHECK(format_rfc3339(c->not_after) == "2049-12-31T23:59:59Z");
        CHECK(pck_ca_type(*c) == PckCaType::none);
    }
    CHECK(der.der == pem.der);
}

TEST_CASE("configuration and platform instance of a Platform-CA leaf (dcap-qvl sample)") {
    // Platform CA leaves carry PlatformInstanceID and Configuration (reference B.2); Processor CA
    // leaves (the SGX sample) do not.
    const auto platform = detail::quote_pck_chain(load_quote("quotes/dcapqvl-tdx_quote.bin"));
    REQUIRE(platform[0].sgx_extension.has_value());
    CHECK(platform[0].sgx_extension->platform_instance_id.has_value());
    CHECK(platform[0].sgx_extension->configuration.has_value());
    const auto processor = detail::quote_pck_chain(load_quote("quotes/dcapqvl-sgx_quote.bin"));
    REQUIRE(processor[0].sgx_extension.has_value());
    CHECK_FALSE(processor[0].sgx_extension->platform_instance_id.has_value());
    CHECK_FALSE(processor[0].sgx_extension->configuration.has_value());
}

TEST_CASE("malformed SGX extension DER is Error(malformed)") {
    CHECK(code_of([] { (void)parse_pck_extension({}); }) == Errc::malformed);
    CHECK(code_of([] { (void)parse_pck_extension(Bytes{0x30}); }) == Errc::malformed);
    CHECK(code_of([] { (void)parse_pck_extension(Bytes{0x30, 0x00}); }) == Errc::malformed);  // no fields
    CHECK(code_of([] { (void)parse_pck_extension(Bytes{0x04, 0x00}); }) == Errc::malformed);  // not a SEQUENCE
    CHECK(code_of([] { (void)parse_pck_extension(Bytes{0x30, 0x85, 1, 2, 3, 4, 5}); }) == Errc::malformed);
    CHECK(code_of([] { (void)parse_pck_extension(Bytes{0x30, 0x84, 0xff, 0xff, 0xff, 0xff}); }) == Errc::malformed);
    CHECK(code_of([] { (void)parse_pck_extension(as_bytes("not DER at all")); }) == Errc::malformed);

    const Bytes good = leaf_extension_der("quotes/dcapqvl-tdx_quote.bin");
    REQUIRE(good.size() > 100);
    CHECK_NOTHROW((void)parse_pck_extension(good));
    Bytes trailing = good;
    trailing.push_back(0);
    CHECK(code_of([&] { (void)parse_pck_extension(trailing); }) == Errc::malformed);
    // Every truncation of a real extension is rejected as malformed, never a crash.
    for (std::size_t n = 0; n < good.size(); ++n) {
        CAPTURE(n);
        const Bytes prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
        CHECK(code_of([&] { (void)parse_pck_extension(prefix); }) == Errc::malformed);
    }
}

TEST_CASE("single-byte corruption of a real SGX extension: success or Error(malformed), nothing else") {
    const Bytes good = leaf_extension_der("quotes/dcapqvl-sgx_quote.bin");
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (const std::uint8_t x : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
            Bytes bad = good;
            bad[i] ^= x;
            try {
                (void)parse_pck_extension(bad);
            } catch (const Error& e) {
                CAPTURE(i);
                CHECK(e.code() == Errc::malformed);
            }
        }
    }
}

TEST_CASE("describe_certificate rejects garbage with Error(malformed)") {
    CHECK(code_of([] { (void)describe_certificate(as_bytes("garbage")); }) == Errc::malformed);
    CHECK(code_of([] { (void)describe_certificate(Bytes{0x30, 0x03, 0x02, 0x01, 0x00}); }) == Errc::malformed);
    CHECK(code_of([] {
              (void)describe_certificate(as_bytes("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
          }) == Errc::malformed);
    const auto root = test::read_file(test::real_testdata() / "roots" / "intel-sgx-root-ca.der");
    const Bytes truncated(root.begin(), root.end() - 1);
    CHECK(code_of([&] { (void)describe_certificate(truncated); }) == Errc::malformed);
}

TEST_CASE("a PEM block is a certificate only under a certificate label, with nothing after its DER") {
    auto pem_of = [](const std::string& label, ByteSpan der) {
        BIO* bio = BIO_new(BIO_s_mem());
        REQUIRE(PEM_write_bio(bio, label.c_str(), "", der.data(), static_cast<long>(der.size())) > 0);
        char* text = nullptr;
        const long length = BIO_get_mem_data(bio, &text);
        std::string out(text, static_cast<std::size_t>(length));
        BIO_free(bio);
        return out;
    };
    const Bytes root = intel_sgx_root_ca().certificate_der;
    CHECK(describe_certificate(as_bytes(pem_of("CERTIFICATE", root))).subject_cn == "Intel SGX Root CA");
    CHECK(describe_certificate(as_bytes(pem_of("X509 CERTIFICATE", root))).subject_cn == "Intel SGX Root CA");
    CHECK(code_of([&] { (void)describe_certificate(as_bytes(pem_of("PUBLIC KEY", root))); }) == Errc::malformed);
    CHECK(code_of([&] { (void)describe_certificate(as_bytes(pem_of("X509 CRL", root))); }) == Errc::malformed);
    Bytes padded = root;
    padded.insert(padded.end(), {0x04, 0x00});  // an empty OCTET STRING after the certificate
    CHECK(code_of([&] { (void)describe_certificate(as_bytes(pem_of("CERTIFICATE", padded))); }) == Errc::malformed);
}
