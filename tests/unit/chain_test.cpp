// verify::validate_chain and check_crl on the deterministic test PKI (tdxkit/testing.hpp): the PCK
// chain leaf <- PCK Platform CA <- root with the root CA CRL and the Platform CA's CRL, each case
// changing one certificate or CRL.

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tdxkit/testing.hpp"
#include "tdxkit/time.hpp"
#include "testing/pki.hpp"
#include "verify/chain.hpp"

using namespace tdxkit;
using testing::kDay;
using testing::kReferenceTime;
using testing::Scenario;

namespace {

constexpr const char* kLeaf = "Intel SGX PCK Certificate";
constexpr const char* kCa = "Intel SGX PCK Platform CA";
constexpr const char* kRoot = "Intel SGX Root CA";

const testing::Validity kExpired{kReferenceTime - 30 * kDay, kReferenceTime - 1};
const testing::Validity kFuture{kReferenceTime + 1, kReferenceTime + 30 * kDay};

struct Chain {
    ossl::X509Ptr leaf, ca, root;
    ossl::X509CrlPtr root_crl, pck_crl;

    explicit Chain(const Scenario& s) {
        const auto out = s.build();
        leaf = ossl::parse_pem_cert(out.pck_leaf_pem, "leaf");
        ca = ossl::parse_pem_cert(out.platform_ca_pem, "CA");
        root = ossl::parse_pem_cert(out.root_pem, "root");
        root_crl = ossl::parse_der_crl(out.collateral.root_ca_crl, "root CRL");
        pck_crl = ossl::parse_der_crl(out.platform_crl, "PCK CRL");
    }

    [[nodiscard]] std::optional<std::string> validate(UnixTime now = kReferenceTime) const {
        return verify::validate_chain(leaf.get(), {ca.get()}, root.get(), {root_crl.get(), pck_crl.get()}, now);
    }
};

Chain chain_with(const std::function<void(Scenario&)>& tweak = {}) {
    Scenario s;
    if (tweak) tweak(s);
    return Chain{s};
}

std::string reason(const std::optional<std::string>& why) {
    REQUIRE(why.has_value());
    return *why;
}

}  // namespace

TEST_CASE("validate_chain: the scenario's PCK chain is valid") {
    const auto chain = chain_with();
    CHECK_FALSE(chain.validate().has_value());
    CHECK(verify::same_public_key(chain.root.get(), chain.root.get()));
    CHECK_FALSE(verify::same_public_key(chain.root.get(), chain.ca.get()));
}

TEST_CASE("validate_chain: validity is inclusive at both ends and judged at the given time") {
    const auto chain = chain_with();
    const auto from = kReferenceTime - 15 * kDay;
    const auto until = kReferenceTime + 15 * kDay;
    CHECK_FALSE(chain.validate(from).has_value());
    CHECK_FALSE(chain.validate(until).has_value());
    CHECK(reason(chain.validate(until + 1)) ==
          fmt::format("certificate \"{}\" has expired: notAfter {} is before the verification time {}", kLeaf,
                      format_rfc3339(until), format_rfc3339(until + 1)));
    CHECK(reason(chain.validate(from - 1)) ==
          fmt::format("certificate \"{}\" is not yet valid: notBefore {} is after the verification time {}", kLeaf,
                      format_rfc3339(from), format_rfc3339(from - 1)));
}

TEST_CASE("validate_chain: an expired or not yet valid certificate anywhere in the chain") {
    CHECK(reason(chain_with([](Scenario& s) { s.pck.cert.validity = kExpired; }).validate()) ==
          fmt::format("certificate \"{}\" has expired: notAfter 2026-01-14T23:59:59Z is before the verification "
                      "time 2026-01-15T00:00:00Z",
                      kLeaf));
    CHECK(reason(chain_with([](Scenario& s) { s.platform_ca.validity = kExpired; }).validate()) ==
          fmt::format("certificate \"{}\" has expired: notAfter 2026-01-14T23:59:59Z is before the verification "
                      "time 2026-01-15T00:00:00Z",
                      kCa));
    CHECK(reason(chain_with([](Scenario& s) { s.root.validity = kFuture; }).validate()) ==
          fmt::format("certificate \"{}\" is not yet valid: notBefore 2026-01-15T00:00:01Z is after the "
                      "verification time 2026-01-15T00:00:00Z",
                      kRoot));
}

TEST_CASE("validate_chain: wrong root") {
    Scenario other;
    other.seed = "a different test PKI";
    auto chain = chain_with();
    chain.root = ossl::parse_pem_cert(other.build().root_pem, "other root");
    // Same names, another key: the CA's signature (and key identifier) do not match.
    CHECK(reason(chain.validate()).rfind(fmt::format("certificate \"{}\" is not issued by \"{}\"", kCa, kRoot), 0) ==
          0);
}

TEST_CASE("validate_chain: a signature by the wrong key") {
    // Names and key identifiers are right; only the signature is by another key.
    const auto chain = chain_with([](Scenario& s) { s.pck.cert.signing_key = "not-the-ca"; });
    CHECK(reason(chain.validate()) ==
          fmt::format("signature of certificate \"{}\" does not verify with the key of \"{}\"", kLeaf, kCa));
}

TEST_CASE("validate_chain: revocation") {
    SUBCASE("leaf listed in the PCK CRL") {
        const auto chain = chain_with([](Scenario& s) { s.pck_crl.revoked_serials.push_back(s.pck.cert.serial); });
        CHECK(reason(chain.validate()) ==
              fmt::format("certificate \"{}\" (serial 7e570100) is REVOKED by the CRL of \"{}\"", kLeaf, kCa));
    }
    SUBCASE("CA listed in the root CRL") {
        const auto chain = chain_with([](Scenario& s) { s.root_crl.revoked_serials.push_back(s.platform_ca.serial); });
        CHECK(reason(chain.validate()) ==
              fmt::format("certificate \"{}\" (serial 7e570002) is REVOKED by the CRL of \"{}\"", kCa, kRoot));
    }
    SUBCASE("a certificate no CRL covers is refused") {
        const auto chain = chain_with();
        CHECK(reason(verify::validate_chain(chain.leaf.get(), {chain.ca.get()}, chain.root.get(),
                                            {chain.root_crl.get()}, kReferenceTime)) ==
              fmt::format("no CRL from \"{}\" covers certificate \"{}\"", kCa, kLeaf));
    }
}

TEST_CASE("validate_chain: CA flags") {
    const auto chain = chain_with();
    SUBCASE("a CA certificate as the end entity") {
        CHECK(reason(verify::validate_chain(chain.ca.get(), {}, chain.root.get(), {chain.root_crl.get()},
                                            kReferenceTime)) ==
              fmt::format("end-entity certificate \"{}\" is a CA certificate", kCa));
    }
    SUBCASE("an end-entity certificate as the issuer") {
        const Scenario s;
        testing::CertificateOptions options;
        options.common_name = "Issued by a leaf";
        options.serial = {0x7E, 0x57, 0x02, 0x00};
        const auto child = testing::issue_certificate(options, {}, s.key("child"), chain.leaf.get(), s.key("pck-leaf"));
        const auto why =
            reason(verify::validate_chain(child.get(), {chain.leaf.get(), chain.ca.get()}, chain.root.get(),
                                          {chain.root_crl.get(), chain.pck_crl.get()}, kReferenceTime));
        // The leaf's keyUsage lacks keyCertSign, so OpenSSL's issuer check already refuses it.
        CHECK(why.rfind(fmt::format("certificate \"Issued by a leaf\" is not issued by \"{}\"", kLeaf), 0) == 0);
    }
}

TEST_CASE("check_crl: issuer, signature and validity window") {
    const auto chain = chain_with();
    CHECK_FALSE(verify::check_crl(chain.pck_crl.get(), chain.ca.get(), kReferenceTime, "PCK CRL").has_value());
    CHECK(reason(verify::check_crl(chain.pck_crl.get(), chain.root.get(), kReferenceTime, "PCK CRL"))
              .rfind("PCK CRL is issued by \"", 0) == 0);

    const auto forged = chain_with([](Scenario& s) { s.pck_crl.signing_key = "not-the-ca"; });
    CHECK(reason(verify::check_crl(forged.pck_crl.get(), forged.ca.get(), kReferenceTime, "PCK CRL")) ==
          fmt::format("PCK CRL signature does not verify with the key of \"{}\"", kCa));

    const auto expired = chain_with([](Scenario& s) { s.root_crl.validity = kExpired; });
    CHECK(reason(verify::check_crl(expired.root_crl.get(), expired.root.get(), kReferenceTime, "root CA CRL")) ==
          "root CA CRL has expired: nextUpdate 2026-01-14T23:59:59Z is before the verification time "
          "2026-01-15T00:00:00Z; fetch current collateral");
    const auto future = chain_with([](Scenario& s) { s.root_crl.validity = kFuture; });
    CHECK(reason(verify::check_crl(future.root_crl.get(), future.root.get(), kReferenceTime, "root CA CRL")) ==
          "root CA CRL is not yet valid: thisUpdate 2026-01-15T00:00:01Z is after the verification time "
          "2026-01-15T00:00:00Z");
}
