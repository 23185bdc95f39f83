#include "pcs/pck_internal.hpp"
#include "support/test_support.hpp"

#include "tdxkit/collateral.hpp"
#include "tdxkit/describe.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/testing.hpp"

#include <doctest/doctest.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <filesystem>

using namespace tdxkit;
namespace tt = tdxkit::testing;

namespace {

template <auto FreeFn>
struct Free {
    template <class T>
    void operator()(T* p) const noexcept {
        FreeFn(p);
    }
};
template <class T, auto FreeFn>
using Owned = std::unique_ptr<T, Free<FreeFn>>;

// Independent of the library's private OpenSSL helpers: a P-256 SubjectPublicKeyInfo is a fixed
// 26-byte prefix followed by the uncompressed point.
bool verify_raw(ByteSpan public_xy, ByteSpan message, ByteSpan raw_sig) {
    Bytes spki = from_hex("3059301306072a8648ce3d020106082a8648ce3d03010703420004");
    spki.insert(spki.end(), public_xy.begin(), public_xy.end());
    const unsigned char* p = spki.data();
    Owned<EVP_PKEY, EVP_PKEY_free> key{d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()))};
    REQUIRE(key);
    Owned<ECDSA_SIG, ECDSA_SIG_free> sig{ECDSA_SIG_new()};
    REQUIRE(ECDSA_SIG_set0(sig.get(), BN_bin2bn(raw_sig.data(), 32, nullptr),
                           BN_bin2bn(raw_sig.data() + 32, 32, nullptr)) == 1);
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
    Owned<EVP_MD_CTX, EVP_MD_CTX_free> ctx{EVP_MD_CTX_new()};
    const bool ok =
        EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len), message.data(), message.size()) == 1;
    OPENSSL_free(der);
    return ok;
}

// Public key X||Y of a PEM certificate.
Bytes cert_key(const std::string& pem) {
    const auto info = describe_certificate(as_bytes(pem));
    const unsigned char* p = info.der.data();
    Owned<X509, X509_free> cert{d2i_X509(nullptr, &p, static_cast<long>(info.der.size()))};
    REQUIRE(cert);
    unsigned char* point = nullptr;
    const int len = i2d_PublicKey(X509_get0_pubkey(cert.get()), &point);
    REQUIRE(len == 65);
    Bytes xy(point + 1, point + len);
    OPENSSL_free(point);
    return xy;
}

bool signed_by(const std::string& child_pem, const std::string& issuer_pem) {
    const auto child = describe_certificate(as_bytes(child_pem));
    const auto issuer = describe_certificate(as_bytes(issuer_pem));
    const unsigned char* p = child.der.data();
    Owned<X509, X509_free> c{d2i_X509(nullptr, &p, static_cast<long>(child.der.size()))};
    p = issuer.der.data();
    Owned<X509, X509_free> i{d2i_X509(nullptr, &p, static_cast<long>(issuer.der.size()))};
    return X509_verify(c.get(), X509_get0_pubkey(i.get())) == 1;
}

struct CrlFacts {
    std::string issuer_cn;
    std::vector<std::string> revoked_hex;
    bool signature_ok = false;
    UnixTime this_update = 0;
    UnixTime next_update = 0;
};

UnixTime unix_of(const ASN1_TIME* t) {
    struct tm tm {};
    REQUIRE(ASN1_TIME_to_tm(t, &tm) == 1);
    return timegm(&tm);
}

CrlFacts crl_facts(const Bytes& der, const std::string& issuer_pem) {
    const unsigned char* p = der.data();
    Owned<X509_CRL, X509_CRL_free> crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()))};
    REQUIRE(crl);
    CrlFacts f;
    const X509_NAME* name = X509_CRL_get_issuer(crl.get());
    char cn[256] = {};
    X509_NAME_get_text_by_NID(const_cast<X509_NAME*>(name), NID_commonName, cn, sizeof cn);
    f.issuer_cn = cn;
    const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
        const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
        f.revoked_hex.push_back(
            to_hex(ByteSpan(ASN1_STRING_get0_data(serial), static_cast<std::size_t>(ASN1_STRING_length(serial)))));
    }
    const auto issuer = describe_certificate(as_bytes(issuer_pem));
    p = issuer.der.data();
    Owned<X509, X509_free> issuer_cert{d2i_X509(nullptr, &p, static_cast<long>(issuer.der.size()))};
    f.signature_ok = X509_CRL_verify(crl.get(), X509_get0_pubkey(issuer_cert.get())) == 1;
    f.this_update = unix_of(X509_CRL_get0_lastUpdate(crl.get()));
    f.next_update = unix_of(X509_CRL_get0_nextUpdate(crl.get()));
    return f;
}

void check_quote_signatures(const tt::ScenarioOutput& out) {
    const Quote q = parse_quote(out.quote);
    CHECK(q.raw == out.quote);
    CHECK(q.trailing_bytes == 0);
    CHECK(serialize_quote(q) == out.quote);

    const auto& sd = q.signature_data;
    Bytes bound(sd.attestation_key.begin(), sd.attestation_key.end());
    bound.insert(bound.end(), sd.qe_auth_data.begin(), sd.qe_auth_data.end());
    const auto digest = sha256(bound);
    CHECK(std::equal(digest.begin(), digest.end(), sd.qe_report.report_data.begin()));
    CHECK(all_zero(ByteSpan(sd.qe_report.report_data).last(32)));

    CHECK(verify_raw(sd.attestation_key, q.signed_region(), sd.signature));
    CHECK(verify_raw(cert_key(out.pck_leaf_pem), sd.qe_report_raw, sd.qe_report_signature));
    CHECK(sd.certification.type == 5);
    CHECK(std::string(sd.certification.data.begin(), sd.certification.data.end()) == out.pck_chain_pem);
}

}  // namespace

TEST_CASE("RFC 6979 A.2.5: deterministic ECDSA P-256/SHA-256 of \"sample\"") {
    tt::PrivateScalar d{};
    const auto x = from_hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
    std::copy(x.begin(), x.end(), d.begin());
    CHECK(to_hex(tt::public_key(d)) == "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
                                       "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
    CHECK(to_hex(tt::sign_p256(d, as_bytes("sample"))) ==
          "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
          "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
    tt::PrivateScalar zero{};
    CHECK_THROWS_AS((void)tt::sign_p256(zero, as_bytes("sample")), Error);
}

TEST_CASE("keys are a function of seed and label") {
    CHECK(tt::derive_private_scalar("s", "root") == tt::derive_private_scalar("s", "root"));
    CHECK(tt::derive_private_scalar("s", "root") != tt::derive_private_scalar("s", "root2"));
    CHECK(tt::derive_private_scalar("s", "root") != tt::derive_private_scalar("t", "root"));
    CHECK(tt::private_key_pem(tt::derive_private_scalar("s", "root")).starts_with("-----BEGIN PRIVATE KEY-----"));
}

TEST_CASE("the default scenario: a signed TDX v4 quote and collateral around the reference time") {
    const tt::Scenario scenario;
    const auto out = scenario.build();
    CHECK(out.now == tt::kReferenceTime);
    CHECK(out.quote == scenario.build().quote);  // deterministic, signatures included

    const Quote q = parse_quote(out.quote);
    CHECK(q.header.version == 4);
    CHECK(q.is_tdx());
    CHECK(q.header.qe_vendor_id == kIntelQeVendorId);
    CHECK(q.body_type == BodyType::td10);
    CHECK(q.td_body()->tee_tcb_svn == scenario.quote.td_body.tee_tcb_svn);
    CHECK(q.td_body()->report_data == scenario.quote.td_body.report_data);
    CHECK(q.signature_data.qe_report.isv_svn == 4);
    check_quote_signatures(out);

    SUBCASE("PCK chain and extension round-trip through describe_certificate") {
        const auto chain = detail::quote_pck_chain(q);
        REQUIRE(chain.size() == 3);
        CHECK(chain[0].subject_cn == "Intel SGX PCK Certificate");
        CHECK(chain[0].issuer_cn == "Intel SGX PCK Platform CA");
        CHECK(chain[0].subject.find("tdxkit TEST") != std::string::npos);
        CHECK(pck_ca_type(chain[0]) == PckCaType::platform);
        CHECK(chain[2].der == out.root_der);
        CHECK(chain[2].is_ca);
        CHECK(chain[0].not_before == tt::kReferenceTime - 15 * tt::kDay);
        CHECK(chain[0].not_after == tt::kReferenceTime + 15 * tt::kDay);
        REQUIRE(chain[0].sgx_extension);
        const auto& got = *chain[0].sgx_extension;
        const auto& want = scenario.pck.extension;
        CHECK(got.ppid == want.ppid);
        CHECK(got.sgx_tcb_components == want.sgx_tcb_components);
        CHECK(got.pcesvn == want.pcesvn);
        CHECK(got.cpusvn == want.cpusvn);
        CHECK(got.pce_id == want.pce_id);
        CHECK(got.fmspc == want.fmspc);
        CHECK(got.sgx_type == want.sgx_type);
        CHECK(got.platform_instance_id == want.platform_instance_id);
        REQUIRE(got.configuration);
        CHECK(got.configuration->dynamic_platform == want.configuration->dynamic_platform);
        CHECK(got.configuration->cached_keys == want.configuration->cached_keys);
        CHECK(got.configuration->smt_enabled == want.configuration->smt_enabled);
        CHECK(signed_by(out.pck_leaf_pem, out.platform_ca_pem));
        CHECK(signed_by(out.platform_ca_pem, out.root_pem));
        CHECK(signed_by(out.root_pem, out.root_pem));
        CHECK(signed_by(out.tcb_signing_pem, out.root_pem));
    }

    SUBCASE("TCB Info and QE Identity are signed over their exact bodies") {
        const auto& c = out.collateral;
        const auto signer = cert_key(out.tcb_signing_pem);
        CHECK(verify_raw(signer, as_bytes(c.tcb_info), c.tcb_info_signature));
        CHECK(verify_raw(signer, as_bytes(c.qe_identity), c.qe_identity_signature));
        CHECK(c.tcb_info.starts_with(R"({"id":"TDX","version":3,"issueDate":"2025-12-31T00:00:00Z",)"
                                     R"("nextUpdate":"2026-01-30T00:00:00Z","fmspc":"90C06F000000","pceId":"0000",)"));
        CHECK(c.tcb_info.find(R"("tdxModuleIdentities":[{"id":"TDX_03")") != std::string::npos);
        CHECK(c.qe_identity.starts_with(R"({"id":"TD_QE","version":2,)"));
        CHECK(c.tcb_info_issuer_chain == out.tcb_signing_pem + out.root_pem);
        CHECK(c.pck_crl_issuer_chain == out.platform_ca_pem + out.root_pem);
        CHECK_FALSE(c.pck_certificate_chain);

        const auto doc = tt::signed_json_document("tcbInfo", c.tcb_info, c.tcb_info_signature);
        const auto extracted = extract_signed_body(doc, "tcbInfo");
        CHECK(extracted.body == c.tcb_info);
        CHECK(extracted.signature == c.tcb_info_signature);
    }

    SUBCASE("the CRLs list the chosen revoked serials and validity") {
        const auto pck = crl_facts(out.collateral.pck_crl, out.platform_ca_pem);
        CHECK(pck.issuer_cn == "Intel SGX PCK Platform CA");
        CHECK(pck.signature_ok);
        CHECK(pck.revoked_hex == std::vector<std::string>{"7e570f01", "7e570f02"});
        CHECK(pck.this_update == tt::kReferenceTime - 15 * tt::kDay);
        CHECK(pck.next_update == tt::kReferenceTime + 15 * tt::kDay);
        const auto root = crl_facts(out.collateral.root_ca_crl, out.root_pem);
        CHECK(root.issuer_cn == "Intel SGX Root CA");
        CHECK(root.signature_ok);
        CHECK(root.revoked_hex == std::vector<std::string>{"7e570e01"});
        CHECK(crl_facts(out.processor_crl, out.processor_ca_pem).signature_ok);
    }

    SUBCASE("write_collateral produces a directory load_collateral reads back") {
        const auto dir = std::filesystem::temp_directory_path() / "tdxkit-testing-test-collateral";
        std::filesystem::remove_all(dir);
        tt::write_scenario(out, dir);
        const auto loaded = load_collateral(dir.string());
        CHECK(loaded.tcb_info == out.collateral.tcb_info);
        CHECK(loaded.tcb_info_signature == out.collateral.tcb_info_signature);
        CHECK(loaded.qe_identity == out.collateral.qe_identity);
        CHECK(loaded.pck_crl == out.collateral.pck_crl);
        CHECK(loaded.root_ca_crl == out.collateral.root_ca_crl);
        CHECK(loaded.pck_crl_issuer_chain == out.collateral.pck_crl_issuer_chain);
        CHECK(test::read_file(dir / "quote.bin") == out.quote);
        std::filesystem::remove_all(dir);
    }
}

TEST_CASE("v5 (TD 1.5) and SGX v3 quotes are signed over their own signed regions") {
    const auto v5 = tt::Scenario::tdx_v5().build();
    const Quote q5 = parse_quote(v5.quote);
    CHECK(q5.header.version == 5);
    CHECK(q5.body_type == BodyType::td15);
    CHECK(q5.signed_length() == kQuoteHeaderSize + 6 + kTd15ReportBodySize);
    CHECK(q5.td_body()->tee_tcb_svn2 == q5.td_body()->tee_tcb_svn);
    check_quote_signatures(v5);
    CHECK(v5.collateral.tcb_info == tt::Scenario{}.build().collateral.tcb_info);

    const auto v3 = tt::Scenario::sgx_v3().build();
    const Quote q3 = parse_quote(v3.quote);
    CHECK(q3.header.version == 3);
    CHECK(q3.header.tee_type == kTeeTypeSgx);
    CHECK(q3.sgx_body() != nullptr);
    check_quote_signatures(v3);
    CHECK(v3.collateral.tcb_info.starts_with(R"({"id":"SGX","version":3,)"));
    CHECK(v3.collateral.tcb_info.find("tdx") == std::string::npos);
    CHECK(v3.collateral.qe_identity.starts_with(R"({"id":"QE",)"));
}

TEST_CASE("options forge each signature, issuer and identity on demand") {
    SUBCASE("TCB Info signed by a key other than the TCB Signing key") {
        tt::Scenario s;
        s.tcb_info.signing_key = "rogue";
        const auto out = s.build();
        CHECK_FALSE(verify_raw(cert_key(out.tcb_signing_pem), as_bytes(out.collateral.tcb_info),
                               out.collateral.tcb_info_signature));
        CHECK(verify_raw(tt::public_key(s.key("rogue")), as_bytes(out.collateral.tcb_info),
                         out.collateral.tcb_info_signature));
    }
    SUBCASE("PCK leaf signed by another key keeps its issuer name") {
        tt::Scenario s;
        s.pck.cert.signing_key = "rogue-ca";
        const auto out = s.build();
        CHECK_FALSE(signed_by(out.pck_leaf_pem, out.platform_ca_pem));
        CHECK(describe_certificate(as_bytes(out.pck_leaf_pem)).issuer_cn == "Intel SGX PCK Platform CA");
    }
    SUBCASE("quote and QE report signed by the wrong keys") {
        tt::Scenario s;
        s.quote.signing_key = "rogue";
        s.quote.qe_report_signing_key = "rogue";
        const auto out = s.build();
        const Quote q = parse_quote(out.quote);
        CHECK_FALSE(verify_raw(q.signature_data.attestation_key, q.signed_region(), q.signature_data.signature));
        CHECK_FALSE(verify_raw(cert_key(out.pck_leaf_pem), q.signature_data.qe_report_raw,
                               q.signature_data.qe_report_signature));
    }
    SUBCASE("processor CA, revoked leaf, edited body") {
        tt::Scenario s;
        s.use_processor_ca();
        s.pck_crl.revoked_serials.push_back(s.pck.cert.serial);
        s.tcb_info.edit_body = [](std::string& body) { body.insert(body.size() - 1, R"(,"extra":1)"); };
        const auto out = s.build();
        const auto leaf = describe_certificate(as_bytes(out.pck_leaf_pem));
        CHECK(pck_ca_type(leaf) == PckCaType::processor);
        CHECK_FALSE(leaf.sgx_extension->platform_instance_id);
        CHECK_FALSE(leaf.sgx_extension->configuration);
        const auto crl = crl_facts(out.collateral.pck_crl, out.processor_ca_pem);
        CHECK(crl.issuer_cn == "Intel SGX PCK Processor CA");
        CHECK(std::find(crl.revoked_hex.begin(), crl.revoked_hex.end(), leaf.serial_hex) != crl.revoked_hex.end());
        CHECK(out.collateral.tcb_info.ends_with(R"(,"extra":1})"));
        CHECK(verify_raw(cert_key(out.tcb_signing_pem), as_bytes(out.collateral.tcb_info),
                         out.collateral.tcb_info_signature));
    }
    SUBCASE("another seed is another, unrelated PKI") {
        tt::Scenario s;
        s.seed = "other";
        CHECK(s.build().root_der != tt::Scenario{}.build().root_der);
    }
}

TEST_CASE("encode_pck_extension is the inverse of parse_pck_extension") {
    PckExtension ext;
    ext.ppid.fill(0xAB);
    for (std::size_t i = 0; i < 16; ++i) ext.sgx_tcb_components[i] = static_cast<std::uint8_t>(i * 17);
    ext.pcesvn = 0x1234;
    ext.cpusvn.fill(0x80);
    ext.pce_id = {0x01, 0x02};
    ext.fmspc = {0xB0, 0xC0, 0x6F, 0, 0, 0};
    ext.sgx_type = 2;
    ext.configuration = PckConfiguration{true, std::nullopt, false};
    const auto parsed = parse_pck_extension(tt::encode_pck_extension(ext));
    CHECK(parsed.ppid == ext.ppid);
    CHECK(parsed.sgx_tcb_components == ext.sgx_tcb_components);
    CHECK(parsed.pcesvn == ext.pcesvn);
    CHECK(parsed.cpusvn == ext.cpusvn);
    CHECK(parsed.pce_id == ext.pce_id);
    CHECK(parsed.fmspc == ext.fmspc);
    CHECK(parsed.sgx_type == 2);
    CHECK_FALSE(parsed.platform_instance_id);
    REQUIRE(parsed.configuration);
    CHECK(parsed.configuration->dynamic_platform == true);
    CHECK_FALSE(parsed.configuration->cached_keys);
    CHECK(parsed.configuration->smt_enabled == false);
}
