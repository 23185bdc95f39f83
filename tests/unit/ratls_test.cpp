// RA-TLS certificates made from simulated quotes (test PKI): the appraisal accepts a genuine one,
// and each binding rule has a forged certificate that only that rule rejects.

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "support/test_support.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;
using test::code_of;

namespace {

constexpr UnixTime kNow = testing::kReferenceTime;

struct Evidence {
    ratls::KeyPair key;
    Octets<64> report_data{};
    GeneratedQuote generated;
    EventLog log;
};

// A quote over SHA-512("ratls-cert:" || SPKI) of a fresh key; `bind` changes the last RTMR3 event, so
// two quotes made with different `bind` values have different RTMR3s.
Evidence make_evidence(Bytes bind = {}) {
    Evidence e;
    e.key = ratls::generate_key();
    e.report_data = ratls::content_report_data(ratls::kTagRaTlsCert, e.key.spki_der);
    QuoteRequest req;
    req.provider = QuoteProvider::simulated;
    req.pki_dir = (test::source_dir() / "testdata/pki").string();
    req.report_data = e.report_data;
    if (!bind.empty()) req.bind_certificate_der = bind;
    e.generated = testing::generate_simulated_quote(req);
    e.log = parse_dstack_event_log(*e.generated.event_log);
    return e;
}

ratls::CertificateRequest request_for(const Evidence& e) {
    ratls::CertificateRequest r;
    r.not_before = kNow - 3600;
    r.not_after = kNow + 86400;
    r.quote = e.generated.quote;
    r.event_log = *e.generated.event_log;
    return r;
}

Appraisal appraise_certificate(const std::string& pem, UnixTime now = kNow) {
    const auto evidence = ratls::decode_evidence(as_bytes(pem));
    const auto quote = parse_quote(evidence.quote);
    const auto collateral = load_collateral((test::source_dir() / "testdata/collateral/sim").string());
    AppraisalOptions options;
    options.now = now;
    options.trust_root = custom_trust_root(test::read_file(test::source_dir() / "testdata/pki/root.pem"));
    return ratls::appraise_evidence(evidence, quote, collateral, default_policy(), options);
}

const Check* find_check(const Appraisal& a, std::string_view id) {
    const auto it =
        std::find_if(a.evidence_checks.begin(), a.evidence_checks.end(), [&](const Check& c) { return c.id == id; });
    return it == a.evidence_checks.end() ? nullptr : &*it;
}

std::string parse_error(const std::string& pem) {
    try {
        (void)ratls::parse_certificate(as_bytes(pem));
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("the key binding is SHA-512(tag ':' content), dstack's QuoteContentType") {
    // Python: hashlib.sha512(b"ratls-cert:" + bytes([1, 2, 3])).hexdigest()
    CHECK(to_hex(ratls::content_report_data(ratls::kTagRaTlsCert, Bytes{1, 2, 3})) ==
          to_hex(sha512(as_bytes(std::string("ratls-cert:\x01\x02\x03", 14)))));
    CHECK(ratls::content_report_data(ratls::kTagAppData, Bytes{1}) !=
          ratls::content_report_data(ratls::kTagKmsRootCa, Bytes{1}));
}

TEST_CASE("a genuine self-signed RA-TLS certificate (.1 quote, .2 gzip log) is accepted with every evidence check") {
    const auto e = make_evidence();
    const auto pem = ratls::make_certificate(e.key, request_for(e));
    const auto cert = ratls::parse_certificate(as_bytes(pem));
    CHECK(cert.spki_der == e.key.spki_der);
    CHECK(cert.event_log_compressed);
    CHECK(cert.quote == e.generated.quote);
    CHECK(cert.dns_names == std::vector<std::string>{"localhost"});

    const auto a = appraise_certificate(pem);
    CHECK_MESSAGE(a.accepted, a.reason);
    std::vector<std::string> ids;
    for (const auto& c : a.evidence_checks) {
        CHECK_MESSAGE(c.passed, c.id, ": ", c.detail);
        ids.push_back(c.id);
    }
    CHECK(ids == std::vector<std::string>{"certificate_validity", "certificate_signature", "certificate_key_usage",
                                          "event_log_rtmr3", "report_data_binding"});
}

TEST_CASE("a versioned attestation in .8 is preferred, and its report-data copy must equal the quote's") {
    const auto e = make_evidence();
    auto request = request_for(e);
    request.event_log.reset();
    request.attestation = encode_dstack_attestation(e.generated.quote, e.log, e.report_data, "{}");
    const auto a = appraise_certificate(ratls::make_certificate(e.key, request));
    CHECK_MESSAGE(a.accepted, a.reason);
    REQUIRE(find_check(a, "attestation_report_data") != nullptr);
    CHECK(find_check(a, "attestation_report_data")->passed);

    auto other = e.report_data;
    other[0] ^= 1;
    request.attestation = encode_dstack_attestation(e.generated.quote, e.log, other, "{}");
    const auto forged = appraise_certificate(ratls::make_certificate(e.key, request));
    CHECK_FALSE(forged.accepted);
    CHECK(forged.reason.rfind("attestation_report_data: ", 0) == 0);

    // .1 and .8 with different quotes: which one is meant is ambiguous, so it is refused outright.
    const auto e2 = make_evidence();
    request.attestation = encode_dstack_attestation(e.generated.quote, e.log, e.report_data, "{}");
    request.quote = e2.generated.quote;
    const auto pem = ratls::make_certificate(e.key, request);
    CHECK(code_of([&] { (void)ratls::decode_evidence(as_bytes(pem)); }) == Errc::malformed);
}

TEST_CASE("a certificate for another key carrying a genuine quote is rejected by the key binding") {
    const auto genuine = make_evidence();
    // The relaying attacker's own key, with the genuine TD's quote and log copied in.
    const auto attacker = ratls::generate_key();
    const auto a = appraise_certificate(ratls::make_certificate(attacker, request_for(genuine)));
    CHECK_FALSE(a.accepted);
    CHECK(a.report.authentic);  // the quote itself is genuine
    CHECK(a.reason.rfind("report_data_binding: ", 0) == 0);
    CHECK(a.reason.find(to_hex(genuine.report_data)) != std::string::npos);
}

TEST_CASE("a certificate whose event log was swapped for another TD's is rejected by the RTMR3 replay") {
    const auto e = make_evidence();
    const auto other = make_evidence(Bytes{0x30, 0x03, 0x02, 0x01, 0x07});
    auto request = request_for(e);
    request.event_log = *other.generated.event_log;
    const auto a = appraise_certificate(ratls::make_certificate(e.key, request));
    CHECK_FALSE(a.accepted);
    CHECK(a.reason.rfind("event_log_rtmr3: ", 0) == 0);
}

TEST_CASE("the certificate's own checks: dates, signature, key usage") {
    const auto e = make_evidence();
    const auto pem = ratls::make_certificate(e.key, request_for(e));

    SUBCASE("outside its validity") {
        const auto a = appraise_certificate(pem, kNow + 2 * 86400);
        CHECK_FALSE(a.accepted);
        // The collateral is valid for 15 days around the reference time, so the certificate fails first.
        CHECK(a.reason.rfind("certificate_validity: ", 0) == 0);
    }
    SUBCASE("altered after signing: one byte of the subject") {
        auto cert = ratls::parse_certificate(as_bytes(pem));
        auto der = cert.der;
        const std::string cn = "tdxkit RA-TLS";
        const auto at = std::search(der.begin(), der.end(), cn.begin(), cn.end());
        REQUIRE(at != der.end());
        *at = 'T';
        cert = ratls::parse_certificate(der);
        const auto checks = ratls::check_certificate(cert, kNow);
        CHECK(checks[1].id == "certificate_signature");
        CHECK_FALSE(checks[1].passed);
    }
}

TEST_CASE("a certificate without RA-TLS evidence is not an RA-TLS certificate") {
    const auto key = ratls::generate_key();
    ratls::CertificateRequest request;
    request.not_before = kNow - 60;
    request.not_after = kNow + 60;
    const auto pem = ratls::make_certificate(key, request);
    CHECK(code_of([&] { (void)ratls::decode_evidence(as_bytes(pem)); }) == Errc::malformed);
}

TEST_CASE("a gzip bomb in the event log extension is refused before it is inflated") {
    const auto key = ratls::generate_key();
    ratls::CertificateRequest request;
    request.not_before = kNow - 60;
    request.not_after = kNow + 60;
    request.quote = Bytes{4, 0};
    request.event_log = std::string(ratls::kMaxEventLogExtension + 1, ' ');
    const auto pem = ratls::make_certificate(key, request);
    CHECK(pem.size() < 8 * 1024);  // a kilobyte of deflate, a quarter megabyte inflated
    CHECK(parse_error(pem).find("decompression bomb") != std::string::npos);

    request.event_log = std::string(ratls::kMaxEventLogExtension, ' ');
    CHECK(ratls::parse_certificate(as_bytes(ratls::make_certificate(key, request))).event_log->size() ==
          ratls::kMaxEventLogExtension);
}

TEST_CASE("containers are told apart: DER and PEM certificates, binary, hex and JSON attestations, plain quotes") {
    const auto e = make_evidence();
    const auto pem = ratls::make_certificate(e.key, request_for(e));
    const auto der = ratls::parse_certificate(as_bytes(pem)).der;
    CHECK(ratls::looks_like_certificate(der));
    CHECK_FALSE(ratls::looks_like_certificate(e.generated.quote));
    CHECK(ratls::decode_evidence(der).container == "RA-TLS certificate");
    CHECK(ratls::decode_evidence(as_bytes(pem)).source == "extension 1.3.6.1.4.1.62397.1.1 (quote) and "
                                                          "1.3.6.1.4.1.62397.1.2 (event log)");

    const auto attestation = encode_dstack_attestation(e.generated.quote, e.log, e.report_data, "{}");
    CHECK(ratls::decode_evidence(attestation).container == "dstack versioned attestation");
    CHECK(ratls::decode_evidence(as_bytes(to_hex(attestation) + "\n")).format == InputFormat::hex);
    const auto request = "{\"attestation\": \"" + to_hex(attestation) + "\"}";
    CHECK(ratls::decode_evidence(as_bytes(request)).quote == e.generated.quote);
    CHECK(code_of([&] { (void)ratls::decode_evidence(as_bytes("{\"attestation\": \"00\", \"x\": 1}")); }) ==
          Errc::malformed);

    const auto plain = ratls::decode_evidence(e.generated.quote);
    CHECK(plain.container == "raw");
    CHECK_FALSE(plain.certificate.has_value());
}

// ---- Certificates other than make_certificate's: edited and re-signed with OpenSSL here ----

namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)>;
using ObjectPtr = std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)>;

X509Ptr x509_of(const Bytes& der) {
    const unsigned char* p = der.data();
    X509Ptr x{d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free};
    REQUIRE(x);
    return x;
}

PkeyPtr key_of(const ratls::KeyPair& key) {
    const auto pem = key.private_key_pem.view();
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free};
    PkeyPtr k{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free};
    REQUIRE(k);
    return k;
}

std::string pem_of(X509* x) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), BIO_free};
    REQUIRE(PEM_write_bio_X509(bio.get(), x) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return {data, static_cast<std::size_t>(size)};
}

// `cert` re-issued by `issuer` (its subject becomes the issuer name) and signed with its key.
std::string reissue(const std::string& cert_pem, const std::string& issuer_pem, const ratls::KeyPair& issuer_key) {
    const auto x = x509_of(ratls::parse_certificate(as_bytes(cert_pem)).der);
    const auto issuer = x509_of(ratls::parse_certificate(as_bytes(issuer_pem)).der);
    REQUIRE(X509_set_issuer_name(x.get(), X509_get_subject_name(issuer.get())) == 1);
    REQUIRE(X509_sign(x.get(), key_of(issuer_key).get(), EVP_sha256()) > 0);
    return pem_of(x.get());
}

ratls::KeyPair ca_key() { return ratls::generate_key(); }

std::string ca_certificate(const ratls::KeyPair& key, const std::string& name) {
    ratls::CertificateRequest request;
    request.common_name = name;
    request.not_before = kNow - 3600;
    request.not_after = kNow + 86400;
    return ratls::make_certificate(key, request);
}

}  // namespace

TEST_CASE("an RA-TLS extension given twice is malformed: which copy counts would be ambiguous") {
    const auto e = make_evidence();
    const auto x = x509_of(ratls::parse_certificate(as_bytes(ratls::make_certificate(e.key, request_for(e)))).der);
    const ObjectPtr oid{OBJ_txt2obj(std::string(ratls::kOidQuote).c_str(), 1), ASN1_OBJECT_free};
    // DER OCTET STRING {0x04, 0x00}: a second, different quote.
    const unsigned char inner[] = {0x04, 0x02, 0x04, 0x00};
    OctetPtr value{ASN1_OCTET_STRING_new(), ASN1_OCTET_STRING_free};
    REQUIRE(ASN1_OCTET_STRING_set(value.get(), inner, sizeof inner) == 1);
    const ExtensionPtr ext{X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, value.get()), X509_EXTENSION_free};
    REQUIRE(X509_add_ext(x.get(), ext.get(), -1) == 1);
    REQUIRE(X509_sign(x.get(), key_of(e.key).get(), EVP_sha256()) > 0);
    CHECK(parse_error(pem_of(x.get())).find("appears twice") != std::string::npos);
}

TEST_CASE("a CA-issued RA-TLS certificate: its signature is checked when the issuer is given, refused otherwise") {
    const auto e = make_evidence();
    const auto ca = ca_key();
    const auto ca_pem = ca_certificate(ca, "dstack app CA");
    const auto leaf = reissue(ratls::make_certificate(e.key, request_for(e)), ca_pem, ca);

    const auto alone = ratls::check_certificate(ratls::parse_certificate(as_bytes(leaf)), kNow);
    CHECK_FALSE(alone[1].passed);
    CHECK(alone[1].detail.find("which was not given") != std::string::npos);

    const auto bundled = ratls::check_certificate(ratls::parse_certificate(as_bytes(leaf + ca_pem)), kNow);
    CHECK_MESSAGE(bundled[1].passed, bundled[1].detail);
    CHECK(appraise_certificate(leaf + ca_pem).accepted);

    // Another key under the same CA name: the name matches, the signature does not.
    const auto impostor = ca_certificate(ca_key(), "dstack app CA");
    const auto forged = ratls::check_certificate(ratls::parse_certificate(as_bytes(leaf + impostor)), kNow);
    CHECK_FALSE(forged[1].passed);
    CHECK(appraise_certificate(leaf + impostor).reason.rfind("certificate_signature: ", 0) == 0);
}
