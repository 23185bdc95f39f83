// parse_quote / serialize_quote against the real quotes in shared/testdata. Expected values come
// from MANIFEST.json (an independent extraction) and the layout tables of
// shared/reference/dcap-verification.md section A.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/quote.hpp"

using namespace tdxkit;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using tdxkit::test::manifest;

fs::path quote_path(const std::string& name) { return test::real_testdata() / "quotes" / name; }

const json& manifest_quote(const std::string& file) {
    for (const auto& q : manifest().at("quotes")) {
        if (q.at("file") == file) return q;
    }
    FAIL("no MANIFEST entry for " << file);
    throw std::logic_error("unreachable");
}

// A real quote without its trailing bytes (the first quote_size bytes).
Bytes exact_quote(const std::string& name) {
    const auto& m = manifest_quote("quotes/" + name);
    Bytes b = test::read_file(quote_path(name));
    b.resize(b.size() - m.at("trailing_bytes_after_quote").get<std::size_t>());
    return b;
}

void put_le16(Bytes& b, std::size_t off, std::uint16_t v) {
    b.at(off) = static_cast<std::uint8_t>(v);
    b.at(off + 1) = static_cast<std::uint8_t>(v >> 8U);
}

void put_le32(Bytes& b, std::size_t off, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) b.at(off + i) = static_cast<std::uint8_t>(v >> (8U * i));
}

std::uint32_t get_le32(const Bytes& b, std::size_t off) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(b.at(off + i)) << (8U * i);
    return v;
}

struct Failure {
    Errc code = Errc::internal;
    std::string message;
};

Failure parse_failure(const Bytes& data) {
    try {
        (void)parse_quote(data);
    } catch (const Error& e) {
        return {e.code(), e.what()};
    }
    FAIL("parse_quote accepted the input");
    return {};
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::map<std::string, std::string> td_body_hex(const TdReportBody& b) {
    std::map<std::string, std::string> m{
        {"tee_tcb_svn", to_hex(b.tee_tcb_svn)},
        {"mr_seam", to_hex(b.mr_seam)},
        {"mr_signer_seam", to_hex(b.mr_signer_seam)},
        {"seam_attributes", to_hex(b.seam_attributes)},
        {"td_attributes", to_hex(b.td_attributes)},
        {"xfam", to_hex(b.xfam)},
        {"mr_td", to_hex(b.mr_td)},
        {"mr_config_id", to_hex(b.mr_config_id)},
        {"mr_owner", to_hex(b.mr_owner)},
        {"mr_owner_config", to_hex(b.mr_owner_config)},
        {"rtmr0", to_hex(b.rtmr[0])},
        {"rtmr1", to_hex(b.rtmr[1])},
        {"rtmr2", to_hex(b.rtmr[2])},
        {"rtmr3", to_hex(b.rtmr[3])},
        {"report_data", to_hex(b.report_data)},
    };
    if (b.tee_tcb_svn2) m["tee_tcb_svn2"] = to_hex(*b.tee_tcb_svn2);
    if (b.mr_service_td) m["mr_service_td"] = to_hex(*b.mr_service_td);
    return m;
}

void check_against_manifest(const Quote& q, const json& m) {
    CHECK(q.header.version == m.at("version").get<int>());
    const auto tee = m.at("tee_type").get<std::string>();
    CHECK(q.header.tee_type == (tee == "TDX" ? kTeeTypeTdx : kTeeTypeSgx));
    CHECK(q.is_tdx() == (tee == "TDX"));
    REQUIRE(m.at("att_key_type").get<std::string>() == "ECDSA-256-with-P-256");
    CHECK(q.header.attestation_key_type == kAttestationKeyEcdsaP256);
    CHECK(to_hex(q.header.qe_vendor_id) == m.at("qe_vendor_id").get<std::string>());
    CHECK(q.header.qe_vendor_id == kIntelQeVendorId);

    const auto kind = m.at("body_kind").get<std::string>();
    const std::map<std::string, BodyType> kinds{{"SGX_enclave_report", BodyType::sgx_enclave},
                                                {"TD10_report", BodyType::td10},
                                                {"TD15_report", BodyType::td15}};
    REQUIRE(kinds.count(kind) == 1);
    CHECK(q.body_type == kinds.at(kind));
    if (m.contains("body_descriptor")) {
        CHECK(static_cast<int>(q.body_type) == m["body_descriptor"].at("body_type").get<int>());
        CHECK(q.body_size == m["body_descriptor"].at("body_size").get<std::uint32_t>());
    }
    CHECK(q.signed_length() == m.at("signed_region_len").get<std::size_t>());
    CHECK(q.signature_data_len == m.at("signature_data_len").get<std::uint32_t>());
    CHECK(q.trailing_bytes == m.at("trailing_bytes_after_quote").get<std::size_t>());
    CHECK(q.raw.size() + q.trailing_bytes == m.at("size").get<std::size_t>());
    CHECK(q.raw.size() == q.signed_length() + 4 + q.signature_data_len);

    const auto& body = m.at("body");
    if (const auto* td = q.td_body()) {
        const auto actual = td_body_hex(*td);
        for (const auto& [key, value] : body.items()) {
            CAPTURE(key);
            if (key == "td_attributes_decoded") {
                const auto a = td->td_attributes_value();
                CHECK(((a & kTdAttrDebug) != 0) == value.at("debug").get<bool>());
                CHECK(((a & kTdAttrSeptVeDisable) != 0) == value.at("sept_ve_disable").get<bool>());
                CHECK(((a & kTdAttrPks) != 0) == value.at("pks").get<bool>());
                CHECK(((a & kTdAttrKl) != 0) == value.at("kl").get<bool>());
                CHECK(((a & kTdAttrPerfmon) != 0) == value.at("perfmon").get<bool>());
                continue;
            }
            REQUIRE(actual.count(key) == 1);
            CHECK(actual.at(key) == value.get<std::string>());
        }
        CHECK(td->tee_tcb_svn2.has_value() == body.contains("tee_tcb_svn2"));
        CHECK(td->mr_service_td.has_value() == body.contains("mr_service_td"));
        CHECK_FALSE(td->ex.has_value());
    } else {
        const auto* sgx = q.sgx_body();
        REQUIRE(sgx != nullptr);
        for (const auto& [key, value] : body.items()) {
            CAPTURE(key);
            const std::map<std::string, std::string> hex{
                {"cpu_svn", to_hex(sgx->cpu_svn)},       {"misc_select", fmt::format("0x{:08x}", sgx->misc_select)},
                {"attributes", to_hex(sgx->attributes)}, {"mr_enclave", to_hex(sgx->mr_enclave)},
                {"mr_signer", to_hex(sgx->mr_signer)},   {"report_data", to_hex(sgx->report_data)},
            };
            if (key == "isv_prod_id") {
                CHECK(sgx->isv_prod_id == value.get<int>());
            } else if (key == "isv_svn") {
                CHECK(sgx->isv_svn == value.get<int>());
            } else {
                REQUIRE(hex.count(key) == 1);
                CHECK(hex.at(key) == value.get<std::string>());
            }
        }
    }

    const auto& qe = m.at("qe_report");
    const auto& s = q.signature_data;
    CHECK(s.qe_report.isv_svn == qe.at("isv_svn").get<int>());
    CHECK(s.qe_report.isv_prod_id == qe.at("isv_prod_id").get<int>());
    CHECK(to_hex(s.qe_report.mr_enclave) == qe.at("mr_enclave").get<std::string>());
    CHECK(to_hex(s.qe_report.mr_signer) == qe.at("mr_signer").get<std::string>());
    CHECK(s.qe_report_raw.size() == kSgxReportBodySize);
    CHECK(serialize_sgx_report_body(s.qe_report) == s.qe_report_raw);

    // MANIFEST cert_data_type is the type directly in the signature data: 6 (QE report
    // certification data) for v4/v5, whose inner data is the type-5 PCK chain; 5 for v3.
    const int cert_type = m.at("cert_data_type").get<int>();
    if (q.header.version == 3) {
        CHECK(s.certification.type == cert_type);
    } else {
        CHECK(cert_type == 6);
        CHECK(s.certification.type == 5);
    }
    CHECK(split_pem_chain(s.certification.data).size() == m.at("pck_chain").size());
}

}  // namespace

TEST_CASE("every shared quote parses to the MANIFEST values") {
    const auto& quotes = manifest().at("quotes");
    REQUIRE(quotes.size() == 15);
    for (const auto& m : quotes) {
        const auto file = m.at("file").get<std::string>();
        CAPTURE(file);
        const Bytes data = test::read_file(test::real_testdata() / file);
        REQUIRE(data.size() == m.at("size").get<std::size_t>());
        CHECK(to_hex(sha256(data)) == m.at("sha256_of_decoded_quote").get<std::string>());
        const Quote q = parse_quote(data);
        check_against_manifest(q, m);
        CHECK(std::equal(q.raw.begin(), q.raw.end(), data.begin()));
    }
}

TEST_CASE("serialize_quote(parse_quote(x)) == x.raw, byte for byte, for every shared quote") {
    for (const auto& m : manifest().at("quotes")) {
        const auto file = m.at("file").get<std::string>();
        CAPTURE(file);
        const Bytes data = test::read_file(test::real_testdata() / file);
        const Quote q = parse_quote(data);
        const Bytes out = serialize_quote(q);
        CHECK(out == q.raw);
        CHECK(out.size() + m.at("trailing_bytes_after_quote").get<std::size_t>() == data.size());
        const Quote again = parse_quote(out);
        CHECK(again.raw == q.raw);
        CHECK(again.trailing_bytes == 0);
    }
}

TEST_CASE("signed region: 632 (v4 TD 1.0), 702 (v5 TD 1.5), 432 (v3 SGX) bytes from the start") {
    const std::pair<const char*, std::size_t> cases[] = {
        {"dcapqvl-tdx_quote.bin", 632},
        {"gotdxguest-quote_v5_sample.bin", 702},
        {"dcapqvl-tdx_quote_outdated.bin", 702},
        {"dcapqvl-sgx_quote.bin", 432},
    };
    for (const auto& [name, len] : cases) {
        CAPTURE(name);
        const Bytes data = test::read_file(quote_path(name));
        const Quote q = parse_quote(data);
        CHECK(q.signed_length() == len);
        const auto region = q.signed_region();
        REQUIRE(region.size() == len);
        CHECK(std::equal(region.begin(), region.end(), data.begin()));
        // signature_data_len sits right after the signed region (A.4 / A.6).
        CHECK(get_le32(data, len) == q.signature_data_len);
    }
}

TEST_CASE("v5 quote with a TD 1.0 body (type 2): signed region is 638 bytes") {
    // Built from a real v4 quote: version 5 and the 6-byte descriptor {2, 584} inserted at 48.
    const Bytes v4 = exact_quote("dcapqvl-tdx_quote.bin");
    Bytes v5(v4.begin(), v4.begin() + 48);
    put_le16(v5, 0, 5);
    const Bytes descriptor{0x02, 0x00, 0x48, 0x02, 0x00, 0x00};  // type 2, size 584
    v5.insert(v5.end(), descriptor.begin(), descriptor.end());
    v5.insert(v5.end(), v4.begin() + 48, v4.end());
    const Quote q4 = parse_quote(v4);
    const Quote q5 = parse_quote(v5);
    CHECK(q5.header.version == 5);
    CHECK(q5.body_type == BodyType::td10);
    CHECK(q5.body_size == 584);
    CHECK(q5.signed_length() == 638);
    CHECK(q5.td_body()->mr_td == q4.td_body()->mr_td);
    CHECK(q5.td_body()->rtmr == q4.td_body()->rtmr);
    CHECK_FALSE(q5.td_body()->tee_tcb_svn2.has_value());
    CHECK(q5.signature_data.qe_report_raw == q4.signature_data.qe_report_raw);
    CHECK(serialize_quote(q5) == v5);
}

TEST_CASE("v5 quote with a TD 1.5 EX body (type 4, 885 bytes) decodes and round-trips") {
    // Built from the real v5 quote: body type 4 / size 885 and the 237 extra body bytes after
    // MRSERVICETD (reference A.3: vmid 1, tdId 32, devInfo 48, initServTdHash 48,
    // initServTdAttributes 8, initCpuSvn 16, initTeeTcbSvn 16, initTeeFmspc 12, curServTdHash 48,
    // curServTdAttributes 8).
    const Bytes v5 = exact_quote("gotdxguest-quote_v5_sample.bin");
    Bytes ex = v5;
    put_le16(ex, 48, 4);
    put_le32(ex, 50, 885);
    Bytes extra(237);
    for (std::size_t i = 0; i < extra.size(); ++i) extra[i] = static_cast<std::uint8_t>(i + 1);
    ex.insert(ex.begin() + 702, extra.begin(), extra.end());
    const Quote q = parse_quote(ex);
    CHECK(q.body_type == BodyType::td15_ex);
    CHECK(q.body_size == 885);
    CHECK(q.signed_length() == 48 + 6 + 885);
    const auto* td = q.td_body();
    REQUIRE(td != nullptr);
    REQUIRE(td->ex.has_value());
    CHECK(td->ex->vm_id == 1);
    CHECK(td->ex->td_id[0] == 2);
    CHECK(td->ex->td_id[31] == 33);
    CHECK(td->ex->dev_info[0] == 34);
    CHECK(td->ex->init_serv_td_hash[0] == 82);
    CHECK(td->ex->init_serv_td_attributes[0] == 130);
    CHECK(td->ex->init_cpu_svn[0] == 138);
    CHECK(td->ex->init_tee_tcb_svn[0] == 154);
    CHECK(td->ex->init_tee_fmspc[0] == 170);
    CHECK(td->ex->cur_serv_td_hash[0] == 182);
    CHECK(td->ex->cur_serv_td_attributes[0] == 230);
    CHECK(td->ex->cur_serv_td_attributes[7] == 237);
    CHECK(td->mr_td == parse_quote(v5).td_body()->mr_td);
    CHECK(serialize_quote(q) == ex);
}

TEST_CASE("trailing bytes are tolerated, counted and excluded from raw") {
    const Bytes v5 = exact_quote("gotdxguest-quote_v5_sample.bin");
    for (const std::size_t extra : {std::size_t{0}, std::size_t{1}, std::size_t{17}, std::size_t{4096}}) {
        CAPTURE(extra);
        Bytes data = v5;
        data.insert(data.end(), extra, 0xee);
        const Quote q = parse_quote(data);
        CHECK(q.trailing_bytes == extra);
        CHECK(q.raw == v5);
    }
    // go-tdx-guest's SPR sample ends with an ASCII note after the quote (PROVENANCE).
    const Quote spr = parse_quote(test::read_file(quote_path("gotdxguest-tdx_prod_quote_SPR_E4.bin")));
    CHECK(spr.trailing_bytes == 39);
}

TEST_CASE("header fields of a real TDX quote (reference A.1)") {
    const Quote q = parse_quote(test::read_file(quote_path("dcapqvl-tdx_quote.bin")));
    CHECK(q.header.qe_svn == 0);  // reserved in v4, never written by the TDQE
    CHECK(q.header.pce_svn == 0);
    // user_data: QE ID (16 bytes) then zeros.
    CHECK(q.header.user_data[16] == 0);
    CHECK(q.header.user_data[19] == 0);
    CHECK(q.signature_data.qe_auth_data.size() == 32);
    CHECK(q.signature_data.certification.data.size() == 3678);  // A.4: outer size 4166 = 384+64+2+32+2+4+3678
}

TEST_CASE("unsupported version is Error(unsupported) naming offset 0") {
    for (const std::uint16_t v : {0, 1, 2, 6, 0xffff}) {
        CAPTURE(v);
        Bytes data = exact_quote("dcapqvl-tdx_quote.bin");
        put_le16(data, 0, v);
        const auto f = parse_failure(data);
        CHECK(f.code == Errc::unsupported);
        CHECK(contains(f.message, "offset 0"));
        CHECK(contains(f.message, fmt::format("version {}", v)));
    }
}

TEST_CASE("unsupported attestation key type is Error(unsupported) naming offset 2") {
    for (const std::uint16_t t : {0, 1, 3, 0xffff}) {
        CAPTURE(t);
        Bytes data = exact_quote("dcapqvl-tdx_quote.bin");
        put_le16(data, 2, t);
        const auto f = parse_failure(data);
        CHECK(f.code == Errc::unsupported);
        CHECK(contains(f.message, "offset 2"));
    }
}

TEST_CASE("unknown TEE type is Error(unsupported) naming offset 4") {
    for (const std::uint32_t t : {0x1U, 0x80U, 0x82U, 0x81000000U, 0xffffffffU}) {
        CAPTURE(t);
        Bytes data = exact_quote("gotdxguest-quote_v5_sample.bin");
        put_le32(data, 4, t);
        const auto f = parse_failure(data);
        CHECK(f.code == Errc::unsupported);
        CHECK(contains(f.message, "offset 4"));
    }
}

TEST_CASE("a v3 quote with TEE type TDX is rejected") {
    Bytes data = test::read_file(quote_path("dcapqvl-sgx_quote.bin"));
    put_le32(data, 4, kTeeTypeTdx);
    CHECK(parse_failure(data).code == Errc::unsupported);
}

TEST_CASE("unknown v5 body type is Error(unsupported) naming offset 48") {
    for (const std::uint16_t t : {0, 5, 0x100, 0xffff}) {
        CAPTURE(t);
        Bytes data = exact_quote("gotdxguest-quote_v5_sample.bin");
        put_le16(data, 48, t);
        const auto f = parse_failure(data);
        CHECK(f.code == Errc::unsupported);
        CHECK(contains(f.message, "offset 48"));
    }
}

TEST_CASE("v5 body size that does not match the body type is Error(malformed) naming an offset") {
    for (const std::uint32_t size : {0U, 584U, 647U, 649U, 885U, 0xffffffffU}) {
        CAPTURE(size);
        Bytes data = exact_quote("gotdxguest-quote_v5_sample.bin");
        put_le32(data, 50, size);
        const auto f = parse_failure(data);
        CHECK(f.code == Errc::malformed);
        CHECK(contains(f.message, "at offset 5"));  // the descriptor, 48..54
        CHECK(contains(f.message, fmt::format("body size {}", size)));
        CHECK(contains(f.message, "648"));
    }
}

TEST_CASE("a v5 SGX body inside a TDX quote is rejected") {
    Bytes data = exact_quote("gotdxguest-quote_v5_sample.bin");
    put_le16(data, 48, 1);
    put_le32(data, 50, 384);
    const auto f = parse_failure(data);
    CHECK(f.code == Errc::malformed);
    CHECK(contains(f.message, "does not match TEE type"));
}

TEST_CASE("outer certification data type other than 6 is Error(unsupported) naming offset 764 / 834") {
    const std::pair<const char*, std::size_t> cases[] = {{"dcapqvl-tdx_quote.bin", 764},
                                                         {"gotdxguest-quote_v5_sample.bin", 834}};
    for (const auto& [name, off] : cases) {
        for (const std::uint16_t t : {0, 1, 4, 5, 7, 0xffff}) {
            CAPTURE(name);
            CAPTURE(t);
            Bytes data = exact_quote(name);
            REQUIRE(data.at(off) == 6);
            put_le16(data, off, t);
            const auto f = parse_failure(data);
            CHECK(f.code == Errc::unsupported);
            CHECK(contains(f.message, fmt::format("offset {}", off)));
            CHECK(contains(f.message, fmt::format("type {}", t)));
        }
    }
}

TEST_CASE("v3 certification data type outside 1..5 is Error(unsupported)") {
    for (const std::uint16_t t : {0, 6, 7, 0xffff}) {
        CAPTURE(t);
        Bytes data = test::read_file(quote_path("dcapqvl-sgx_quote.bin"));
        REQUIRE(data.at(1046) == 5);  // A.6: 436 + 64 + 64 + 384 + 64 + 2 + 32
        put_le16(data, 1046, t);
        CHECK(parse_failure(data).code == Errc::unsupported);
    }
}

TEST_CASE("oversized length fields are capped: Error(malformed), no huge allocation") {
    struct Case {
        const char* name;
        std::size_t offset;
        unsigned width;
        std::uint32_t value;
        const char* what;
    };
    // Offsets from reference A.4 (v4 / v5) and A.6 (v3).
    const Case cases[] = {
        {"dcapqvl-tdx_quote.bin", 632, 4, 0xffffffffU, "signature_data_len"},
        {"dcapqvl-tdx_quote.bin", 632, 4, 256 * 1024 + 1, "signature_data_len just over the cap"},
        {"dcapqvl-tdx_quote.bin", 766, 4, 0xffffffffU, "outer certification data size"},
        {"dcapqvl-tdx_quote.bin", 1218, 2, 0xffffU, "QE auth data size"},
        {"dcapqvl-tdx_quote.bin", 1254, 4, 0xffffffffU, "inner certification data size"},
        {"gotdxguest-quote_v5_sample.bin", 702, 4, 0xffffffffU, "v5 signature_data_len"},
        {"gotdxguest-quote_v5_sample.bin", 836, 4, 0xffffffffU, "v5 outer size"},
        {"gotdxguest-quote_v5_sample.bin", 1288, 2, 0xffffU, "v5 QE auth data size"},
        {"gotdxguest-quote_v5_sample.bin", 1324, 4, 0xffffffffU, "v5 inner size"},
        {"dcapqvl-sgx_quote.bin", 432, 4, 0xffffffffU, "v3 signature_data_len"},
        {"dcapqvl-sgx_quote.bin", 1012, 2, 0xffffU, "v3 QE auth data size"},
        {"dcapqvl-sgx_quote.bin", 1048, 4, 0xffffffffU, "v3 certification data size"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        Bytes data = exact_quote(c.name);
        if (c.width == 2) {
            put_le16(data, c.offset, static_cast<std::uint16_t>(c.value));
        } else {
            put_le32(data, c.offset, c.value);
        }
        const auto f = parse_failure(data);
        CHECK(f.code == Errc::malformed);
        CHECK(contains(f.message, "offset"));
        CHECK(contains(f.message, "exceeds the limit"));
    }
}

TEST_CASE("length fields off by one either way are Error(malformed)") {
    const std::pair<std::size_t, unsigned> fields[] = {{632, 4}, {766, 4}, {1218, 2}, {1254, 4}};
    for (const auto& [off, width] : fields) {
        for (const int delta : {-1, +1}) {
            CAPTURE(off);
            CAPTURE(delta);
            // Keep the 70 trailing zero bytes so that a longer length finds data to read.
            Bytes data = test::read_file(quote_path("dcapqvl-tdx_quote.bin"));
            if (width == 2) {
                const auto v = static_cast<std::uint16_t>(data[off] | (data[off + 1] << 8U));
                put_le16(data, off, static_cast<std::uint16_t>(v + delta));
            } else {
                put_le32(data, off, static_cast<std::uint32_t>(static_cast<int>(get_le32(data, off)) + delta));
            }
            const auto f = parse_failure(data);
            CHECK(f.code == Errc::malformed);
            CHECK(contains(f.message, "offset"));
        }
    }
}

TEST_CASE("quote signature data with extra bytes inside is rejected") {
    // signature_data_len one larger, with one byte really inserted: the type-6 data ends early.
    Bytes data = exact_quote("dcapqvl-tdx_quote.bin");
    put_le32(data, 632, 4301);
    data.push_back(0);
    const auto f = parse_failure(data);
    CHECK(f.code == Errc::malformed);
    CHECK(contains(f.message, "quote signature data at offset 4936: 1 unexpected trailing bytes"));
}

TEST_CASE("empty and tiny inputs") {
    CHECK(parse_failure({}).code == Errc::malformed);
    CHECK(contains(parse_failure({}).message, "offset 0"));
    CHECK(parse_failure(Bytes{0x04, 0x00}).code == Errc::malformed);
    CHECK(parse_failure(Bytes(47, 0)).code == Errc::malformed);
}

TEST_CASE("SGX report body: 384-byte parse/serialize round trip and size checks") {
    const Quote q = parse_quote(test::read_file(quote_path("dcapqvl-tdx_quote.bin")));
    const Bytes& raw = q.signature_data.qe_report_raw;
    const auto body = parse_sgx_report_body(raw);
    CHECK(body.isv_prod_id == q.signature_data.qe_report.isv_prod_id);
    CHECK(serialize_sgx_report_body(body) == raw);
    // A.5 offsets: mr_signer at 128, isv_prod_id at 256, isv_svn at 258, report_data at 320.
    CHECK(std::equal(body.mr_signer.begin(), body.mr_signer.end(), raw.begin() + 128));
    CHECK(body.isv_prod_id == (raw[256] | (raw[257] << 8U)));
    CHECK(body.isv_svn == (raw[258] | (raw[259] << 8U)));
    CHECK(std::equal(body.report_data.begin(), body.report_data.end(), raw.begin() + 320));
    const Bytes shorter(raw.begin(), raw.end() - 1);
    CHECK_THROWS_AS((void)parse_sgx_report_body(shorter), Error);
    Bytes longer = raw;
    longer.push_back(0);
    CHECK_THROWS_WITH((void)parse_sgx_report_body(longer),
                      "SGX report body at offset 384: 1 unexpected trailing bytes");
}

TEST_CASE("split_pem_chain: the three certificates of a real chain; NUL handling; errors") {
    const Quote q = parse_quote(test::read_file(quote_path("dcapqvl-tdx_quote.bin")));
    const Bytes& pem = q.signature_data.certification.data;
    const auto certs = split_pem_chain(pem);
    REQUIRE(certs.size() == 3);
    for (const auto& c : certs) {
        CHECK(c.starts_with("-----BEGIN CERTIFICATE-----"));
        CHECK(c.ends_with("-----END CERTIFICATE-----\n"));
    }
    // Most real chains end with one NUL (go-tdx-guest extractChainFromQuote); some do not.
    REQUIRE(pem.back() == 0);
    const Bytes without_nul(pem.begin(), pem.end() - 1);
    CHECK(split_pem_chain(without_nul) == certs);
    const Bytes with_nul = pem;
    const auto dcaprs = parse_quote(test::read_file(quote_path("dcaprs-quote_tdx_00806f050000.bin")));
    CHECK(dcaprs.signature_data.certification.data.back() == '\n');
    CHECK(split_pem_chain(dcaprs.signature_data.certification.data).size() == 3);
    Bytes two_nuls = with_nul;
    two_nuls.push_back(0);
    CHECK_THROWS_AS((void)split_pem_chain(two_nuls), Error);
    Bytes inner_nul = pem;
    inner_nul[100] = 0;
    CHECK_THROWS_AS((void)split_pem_chain(inner_nul), Error);
    CHECK_THROWS_AS((void)split_pem_chain(as_bytes("no certificates here")), Error);
    CHECK_THROWS_AS((void)split_pem_chain({}), Error);
    const std::string unterminated = certs[0].substr(0, 200);
    try {
        (void)split_pem_chain(as_bytes(unterminated));
        FAIL("accepted a certificate without END line");
    } catch (const Error& e) {
        CHECK(e.code() == Errc::malformed);
        CHECK(contains(e.what(), "offset 0"));
    }
}

TEST_CASE("body type and certification data type names and sizes") {
    CHECK(body_type_size(BodyType::sgx_enclave) == 384);
    CHECK(body_type_size(BodyType::td10) == 584);
    CHECK(body_type_size(BodyType::td15) == 648);
    CHECK(body_type_size(BodyType::td15_ex) == 885);
    CHECK(std::string(body_type_name(BodyType::td15)) == "TD report 1.5");
    CHECK(cert_data_type_name(5) == "PCK certificate chain");
    CHECK(cert_data_type_name(6) == "QE report certification data");
    CHECK(cert_data_type_name(99) == "unknown");
    CHECK(kQuoteHeaderSize == 48);
}

TEST_CASE("TD attribute and XFAM accessors are little-endian") {
    const Quote q = parse_quote(test::read_file(quote_path("dcapqvl-tdx_quote.bin")));
    const auto* td = q.td_body();
    REQUIRE(td != nullptr);
    // MANIFEST td_attributes "0000001000000000" = bytes 00 00 00 10 ... -> bit 28 (SEPT_VE_DISABLE).
    CHECK(td->td_attributes_value() == kTdAttrSeptVeDisable);
    CHECK(td->seam_attributes_value() == 0);
    // xfam "e702060000000000" (bytes e7 02 06 00 ...) -> 0x602e7.
    CHECK(td->xfam_value() == 0x602e7ULL);
}
