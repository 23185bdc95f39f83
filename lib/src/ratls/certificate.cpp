// RA-TLS certificates: reading the extensions dstack writes (ra-tls src/cert.rs `add_ext`: each value
// a DER OCTET STRING around the content), the certificate's own checks, and making one.

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string_view>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/der.hpp"
#include "core/utf8.hpp"
#include "crypto/ossl.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::ratls {
namespace {

using ossl::Ptr;
using GeneralNamesPtr = Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using Asn1ObjectPtr = Ptr<ASN1_OBJECT, ASN1_OBJECT_free>;
using Asn1OctetStringPtr = Ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using X509ExtensionPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using X509NamePtr = Ptr<X509_NAME, X509_NAME_free>;

constexpr std::string_view kArc = "1.3.6.1.4.1.62397.1.";
// A PEM bundle holds the leaf and its issuers; more than this is not an RA-TLS chain.
constexpr std::size_t kMaxChain = 8;

[[noreturn]] void malformed(std::string_view why) {
    throw Error(Errc::malformed, fmt::format("RA-TLS certificate: {}", why));
}

std::string_view as_text(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Inflates one gzip member, refusing before allocation anything beyond `cap`: the extension is
// attacker-chosen and a few kilobytes of deflate can expand to gigabytes.
std::string gunzip_bounded(ByteSpan compressed, std::size_t cap) {
    z_stream z{};
    // 16 + MAX_WBITS: a gzip header and trailer (CRC-32 and length checked by zlib), nothing else.
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw Error(Errc::internal, "zlib: inflateInit2 failed");
    const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
    if (compressed.size() > UINT_MAX) malformed("compressed event log too large");
    z.next_in = const_cast<Bytef*>(compressed.data());  // zlib's API is not const-correct; it only reads
    z.avail_in = static_cast<uInt>(compressed.size());
    std::string out;
    std::array<char, 16 * 1024> chunk{};
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        z.next_out = reinterpret_cast<Bytef*>(chunk.data());
        z.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            malformed(fmt::format("event log extension: not valid gzip after \"{}\" ({})", kEventLogGzipMagic,
                                  z.msg != nullptr ? z.msg : "truncated"));
        }
        const std::size_t produced = chunk.size() - z.avail_out;
        if (produced > cap - out.size()) {
            malformed(
                fmt::format("event log extension inflates beyond {} bytes: refused as a decompression bomb", cap));
        }
        out.append(chunk.data(), produced);
        if (rc == Z_OK && produced == 0 && z.avail_in == 0) {
            malformed("event log extension: gzip stream is truncated");
        }
    }
    if (z.avail_in != 0) malformed(fmt::format("event log extension: {} bytes after the gzip stream", z.avail_in));
    return out;
}

// The SubjectPublicKeyInfo exactly as the certificate encodes it: the bytes dstack hashes
// (x509-parser's raw SPKI), not OpenSSL's re-encoding of the parsed key.
Bytes raw_spki(ByteSpan cert_der) {
    der::Reader cert(cert_der, "RA-TLS certificate");
    der::Reader fields(cert.expect(der::kSequence, "Certificate").content, "RA-TLS certificate");
    der::Reader tbs(fields.expect(der::kSequence, "tbsCertificate").content, "tbsCertificate");
    if (tbs.next().tag == 0xA0) tbs.expect(der::kInteger, "serialNumber");  // [0] version came first
    for (const auto* field : {"signature", "issuer", "validity", "subject"}) tbs.expect(der::kSequence, field);
    const auto spki = tbs.expect(der::kSequence, "subjectPublicKeyInfo").raw;
    return Bytes(spki.begin(), spki.end());
}

// An extension value is a DER OCTET STRING whose content is the payload (dstack's add_ext wraps it
// once more inside the extension's own OCTET STRING).
Bytes unwrap_octet_string(const X509_EXTENSION* ext, std::string_view oid) {
    const auto* data = X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(ext));
    const ByteSpan value(ASN1_STRING_get0_data(data), static_cast<std::size_t>(ASN1_STRING_length(data)));
    // The reader keeps a view of its name: the name must outlive it.
    const auto what = fmt::format("RA-TLS extension {}", oid);
    der::Reader r(value, what);
    const auto inner = r.expect(der::kOctetString, "value").content;
    if (!r.empty()) r.fail("bytes after the OCTET STRING");
    return Bytes(inner.begin(), inner.end());
}

std::string utf8_text(Bytes bytes, std::string_view what) {
    std::string text(bytes.begin(), bytes.end());
    if (!detail::is_utf8(text)) malformed(fmt::format("{} is not UTF-8", what));
    return text;
}

std::string oid_text(const ASN1_OBJECT* obj) {
    std::array<char, 128> buf{};
    const int n = OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), obj, 1);
    if (n <= 0 || static_cast<std::size_t>(n) >= buf.size()) return "(unreadable OID)";
    return {buf.data(), static_cast<std::size_t>(n)};
}

void read_extensions(X509* x, Certificate& c) {
    const auto set_once = [](auto& slot, auto value, std::string_view oid) {
        if (slot) malformed(fmt::format("extension {} appears twice (which one counts would be ambiguous)", oid));
        slot = std::move(value);
    };
    for (int i = 0; i < X509_get_ext_count(x); ++i) {
        const auto* ext = X509_get_ext(x, i);
        const auto oid = oid_text(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(ext)));
        if (!oid.starts_with(kArc)) continue;
        if (oid == kOidQuote) {
            set_once(c.quote, unwrap_octet_string(ext, oid), oid);
        } else if (oid == kOidEventLog) {
            const auto value = unwrap_octet_string(ext, oid);
            const auto magic = as_text(ByteSpan(value)).starts_with(kEventLogGzipMagic);
            auto text = magic
                            ? gunzip_bounded(ByteSpan(value).subspan(kEventLogGzipMagic.size()), kMaxEventLogExtension)
                            : utf8_text(value, "event log extension");
            if (magic && !detail::is_utf8(text)) malformed("inflated event log extension is not UTF-8");
            c.event_log_compressed = magic;
            set_once(c.event_log, std::move(text), oid);
        } else if (oid == kOidAppId) {
            set_once(c.app_id, unwrap_octet_string(ext, oid), oid);
        } else if (oid == kOidSpecialUsage) {
            set_once(c.special_usage, utf8_text(unwrap_octet_string(ext, oid), "special usage extension"), oid);
        } else if (oid == kOidAttestation) {
            set_once(c.attestation, unwrap_octet_string(ext, oid), oid);
        } else if (oid == kOidAppInfo) {
            set_once(c.app_info, unwrap_octet_string(ext, oid), oid);
        } else {
            c.unknown_extensions.push_back(oid);
        }
    }
}

std::vector<std::string> dns_names(X509* x) {
    std::vector<std::string> out;
    const GeneralNamesPtr names{
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))};
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const auto* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type != GEN_DNS) continue;
        const auto* s = name->d.dNSName;
        out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    return out;
}

bool self_issued(X509* x) { return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0; }

// 1 good, 0 bad signature; OpenSSL failures other than a bad signature are also "bad" here, which
// fails the check: never a pass.
bool signed_by(X509* x, EVP_PKEY* key) {
    const bool ok = X509_verify(x, key) == 1;
    ossl::drain_errors();
    return ok;
}

Check signature_check(const Certificate& c) {
    Check check{"certificate_signature", false, {}};
    const auto leaf = ossl::parse_der_cert(c.der, "RA-TLS certificate");
    if (self_issued(leaf.get())) {
        check.passed = signed_by(leaf.get(), X509_get0_pubkey(leaf.get()));
        check.detail = check.passed ? "self-signed by its own (attested) key"
                                    : "self-issued, but its signature does not verify under its own key: the "
                                      "certificate was altered after signing";
        return check;
    }
    for (const auto& der : c.chain) {
        const auto issuer = ossl::parse_der_cert(der, "RA-TLS certificate chain");
        if (X509_NAME_cmp(X509_get_subject_name(issuer.get()), X509_get_issuer_name(leaf.get())) != 0) continue;
        check.passed = signed_by(leaf.get(), X509_get0_pubkey(issuer.get()));
        check.detail = check.passed ? fmt::format("signed by {} (given with it; that issuer is not attested)", c.issuer)
                                    : fmt::format("does not verify under the key of the given issuer {}", c.issuer);
        return check;
    }
    check.detail = fmt::format("issued by {}, which was not given, so the certificate's dates and names are "
                               "unchecked: give the issuer's certificate after the leaf (a PEM bundle)",
                               c.issuer);
    return check;
}

Check key_usage_check(const Certificate& c) {
    Check check{"certificate_key_usage", false, {}};
    const auto leaf = ossl::parse_der_cert(c.der, "RA-TLS certificate");
    const auto usage = X509_get_key_usage(leaf.get());  // UINT32_MAX: no keyUsage extension
    const auto extended = X509_get_extended_key_usage(leaf.get());
    if (usage != UINT32_MAX && (usage & KU_DIGITAL_SIGNATURE) == 0) {
        check.detail = "keyUsage does not allow digitalSignature, which a TLS 1.3 certificate needs";
    } else if (extended != UINT32_MAX && (extended & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) == 0) {
        check.detail = "extendedKeyUsage allows neither serverAuth nor clientAuth";
    } else {
        check.passed = true;
        check.detail = "allows TLS use (digitalSignature; serverAuth or clientAuth where restricted)";
    }
    return check;
}

void add_extension(X509* x, int nid_or_zero, std::string_view oid_or_conf, ByteSpan ratls_value) {
    X509ExtensionPtr ext;
    if (nid_or_zero != 0) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
        ext.reset(X509V3_EXT_conf_nid(nullptr, &ctx, nid_or_zero, std::string(oid_or_conf).c_str()));
    } else {
        const Asn1ObjectPtr obj{OBJ_txt2obj(std::string(oid_or_conf).c_str(), 1)};
        // The payload inside a DER OCTET STRING, which becomes the extension's value (dstack's add_ext).
        const Asn1OctetStringPtr inner{ASN1_OCTET_STRING_new()};
        if (!obj || !inner || ratls_value.size() > INT_MAX ||
            ASN1_OCTET_STRING_set(inner.get(), ratls_value.data(), static_cast<int>(ratls_value.size())) != 1) {
            ossl::fail("RA-TLS extension");
        }
        unsigned char* der = nullptr;
        const int len = i2d_ASN1_OCTET_STRING(inner.get(), &der);
        const Asn1OctetStringPtr value{ASN1_OCTET_STRING_new()};
        const bool set = len > 0 && value && ASN1_OCTET_STRING_set(value.get(), der, len) == 1;
        OPENSSL_free(der);
        if (!set) ossl::fail("RA-TLS extension value");
        ext.reset(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, value.get()));
    }
    if (!ext || X509_add_ext(x, ext.get(), -1) != 1) ossl::fail(fmt::format("certificate extension {}", oid_or_conf));
}

Bytes gzip(std::string_view text) {
    z_stream z{};
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw Error(Errc::internal, "zlib: deflateInit2 failed");
    }
    const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, deflateEnd);
    Bytes out(deflateBound(&z, static_cast<uLong>(text.size())));
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw Error(Errc::internal, "zlib: deflate did not finish");
    out.resize(out.size() - z.avail_out);
    return out;
}

bool starts_pem(ByteSpan data) noexcept {
    const auto text = as_text(data);
    const auto first = text.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && text.substr(first).starts_with("-----BEGIN CERTIFICATE-----");
}

// Whether the input is exactly one DER SEQUENCE by its header, the test before OpenSSL is asked:
// hex text starts with '0', the SEQUENCE tag, and a service reads hex quotes all day.
bool one_der_sequence(ByteSpan data) noexcept {
    if (data.size() < 2 || data[0] != der::kSequence) return false;
    std::size_t length = data[1];
    std::size_t header = 2;
    if ((length & 0x80U) != 0) {
        const std::size_t n = length & 0x7FU;
        if (n == 0 || n > 4 || data.size() < 2 + n) return false;
        length = 0;
        for (std::size_t i = 0; i < n; ++i) length = (length << 8U) | data[2 + i];
        header += n;
    }
    return data.size() - header == length;
}

}  // namespace

Octets<64> content_report_data(std::string_view tag, ByteSpan content) {
    Bytes message(tag.begin(), tag.end());
    message.push_back(':');
    message.insert(message.end(), content.begin(), content.end());
    return sha512(message);
}

bool looks_like_certificate(ByteSpan data) noexcept {
    if (starts_pem(data)) return true;
    if (!one_der_sequence(data)) return false;
    const unsigned char* p = data.data();
    const ossl::X509Ptr x{d2i_X509(nullptr, &p, static_cast<long>(data.size()))};
    ossl::drain_errors();
    return x != nullptr && p == data.data() + data.size();
}

Certificate parse_certificate(ByteSpan pem_or_der) {
    if (pem_or_der.size() > kMaxCertificateInput) {
        malformed(fmt::format("{} bytes, more than the {} accepted", pem_or_der.size(), kMaxCertificateInput));
    }
    // A DER RA-TLS certificate holds PEM text itself (the quote's PCK chain), so only a leading
    // PEM header makes the input PEM.
    if (!starts_pem(pem_or_der)) {
        return parse_certificate_chain({Bytes(pem_or_der.begin(), pem_or_der.end())});
    }
    std::vector<Bytes> chain;
    for (const auto& pem : split_pem_chain(pem_or_der)) {
        if (chain.size() == kMaxChain) malformed(fmt::format("more than {} certificates in the bundle", kMaxChain));
        chain.push_back(ossl::pem_cert_der(pem, "RA-TLS certificate"));
    }
    return parse_certificate_chain(chain);
}

Certificate parse_certificate_chain(const std::vector<Bytes>& der_chain) {
    if (der_chain.empty()) malformed("no certificate");
    if (der_chain.size() > kMaxChain) malformed(fmt::format("more than {} certificates in the chain", kMaxChain));
    Certificate c;
    c.der = der_chain.front();
    const auto x = ossl::parse_der_cert(c.der, "RA-TLS certificate");
    c.spki_der = raw_spki(c.der);
    c.subject = ossl::name_oneline(X509_get_subject_name(x.get()));
    c.issuer = ossl::name_oneline(X509_get_issuer_name(x.get()));
    c.not_before = ossl::asn1_time_to_unix(X509_get0_notBefore(x.get()));
    c.not_after = ossl::asn1_time_to_unix(X509_get0_notAfter(x.get()));
    c.dns_names = dns_names(x.get());
    read_extensions(x.get(), c);
    for (std::size_t i = 1; i < der_chain.size(); ++i) {
        (void)ossl::parse_der_cert(der_chain[i], "RA-TLS certificate chain");
        c.chain.push_back(der_chain[i]);
    }
    return c;
}

std::vector<Check> check_certificate(const Certificate& c, UnixTime now) {
    std::vector<Check> checks;
    Check validity{"certificate_validity", now >= c.not_before && now <= c.not_after, {}};
    validity.detail = fmt::format("valid from {} to {}, checked at {}", format_rfc3339(c.not_before),
                                  format_rfc3339(c.not_after), format_rfc3339(now));
    if (!validity.passed) {
        validity.detail += now < c.not_before ? ": not yet valid (check the clock, or --at)"
                                              : ": expired; the server must present a fresh certificate";
    }
    checks.push_back(std::move(validity));
    checks.push_back(signature_check(c));
    checks.push_back(key_usage_check(c));
    return checks;
}

KeyPair generate_key() {
    const ossl::EvpPkeyPtr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
    if (!key) ossl::fail("EVP_PKEY_Q_keygen(P-256)");
    const ossl::BioPtr bio{BIO_new(BIO_s_mem())};
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        ossl::fail("PEM_write_bio_PrivateKey");
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    KeyPair out;
    out.private_key_pem = SecretBytes(Bytes(data, data + size));
    unsigned char* spki = nullptr;
    const int len = i2d_PUBKEY(key.get(), &spki);
    if (len <= 0) ossl::fail("i2d_PUBKEY");
    out.spki_der.assign(spki, spki + len);
    OPENSSL_free(spki);
    return out;
}

std::string make_certificate(const KeyPair& key, const CertificateRequest& request) {
    const auto pem = key.private_key_pem.view();
    const ossl::BioPtr key_bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    const ossl::EvpPkeyPtr pkey{key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr};
    if (!pkey) {
        ossl::drain_errors();
        throw Error(Errc::invalid_argument, "RA-TLS certificate: the private key is not a PEM key OpenSSL can read");
    }
    const ossl::X509Ptr x{X509_new()};
    if (!x) ossl::fail("X509_new");
    std::array<unsigned char, 16> serial{};
    const ossl::BignumPtr serial_bn{RAND_bytes(serial.data(), static_cast<int>(serial.size())) == 1
                                        ? BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr)
                                        : nullptr};
    const X509NamePtr name{X509_NAME_new()};
    if (!serial_bn || !name || X509_set_version(x.get(), X509_VERSION_3) != 1 ||
        BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(x.get())) == nullptr ||
        X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(request.common_name.c_str()), -1, -1,
                                   0) != 1 ||
        X509_set_subject_name(x.get(), name.get()) != 1 || X509_set_issuer_name(x.get(), name.get()) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(request.not_before)) == nullptr ||
        ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(request.not_after)) == nullptr ||
        X509_set_pubkey(x.get(), pkey.get()) != 1) {
        ossl::fail("building the RA-TLS certificate");
    }
    add_extension(x.get(), NID_key_usage, "critical,digitalSignature", {});
    add_extension(x.get(), NID_ext_key_usage, "serverAuth,clientAuth", {});
    std::string san;
    for (const auto& dns : request.dns_names.empty() ? std::vector<std::string>{"localhost"} : request.dns_names) {
        // The names go into an OpenSSL configuration string, where ',' or ':' would add other entries.
        const bool hostname = !dns.empty() && dns.size() <= 253 && std::all_of(dns.begin(), dns.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '*';
        });
        if (!hostname) {
            throw Error(Errc::invalid_argument, fmt::format("RA-TLS certificate: \"{:.64}\" is not a DNS name", dns));
        }
        san += (san.empty() ? "DNS:" : ",DNS:") + dns;
    }
    add_extension(x.get(), NID_subject_alt_name, san, {});
    if (!request.quote.empty()) add_extension(x.get(), 0, kOidQuote, request.quote);
    if (request.event_log) {
        Bytes value;
        if (request.compress_event_log) {
            value.assign(kEventLogGzipMagic.begin(), kEventLogGzipMagic.end());
            const auto packed = gzip(*request.event_log);
            value.insert(value.end(), packed.begin(), packed.end());
        } else {
            value.assign(request.event_log->begin(), request.event_log->end());
        }
        add_extension(x.get(), 0, kOidEventLog, value);
    }
    if (request.app_id) add_extension(x.get(), 0, kOidAppId, *request.app_id);
    if (request.attestation) add_extension(x.get(), 0, kOidAttestation, *request.attestation);
    if (X509_sign(x.get(), pkey.get(), EVP_sha256()) <= 0) ossl::fail("X509_sign");
    const ossl::BioPtr out{BIO_new(BIO_s_mem())};
    if (!out || PEM_write_bio_X509(out.get(), x.get()) != 1) ossl::fail("PEM_write_bio_X509");
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    return {data, static_cast<std::size_t>(size)};
}

}  // namespace tdxkit::ratls
