// Truncated and corrupted quotes: every prefix of a real v4 and v5 quote must be rejected with a
// tdxkit::Error (in-process), and the binary must exit 3 with a message naming an offset, never
// crash. Field offsets come from shared/reference/dcap-verification.md A.1, A.2, A.3 and A.4.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/quote.hpp"

using namespace tdxkit;
using nlohmann::json;

namespace {

using tdxkit::test::manifest;

// The quote's own bytes: the file without the trailing bytes MANIFEST counts.
Bytes exact_quote(const std::string& name) {
    const std::string file = "quotes/" + name;
    Bytes b = test::read_file(test::real_testdata() / file);
    for (const auto& q : manifest().at("quotes")) {
        if (q.at("file") == file) {
            b.resize(b.size() - q.at("trailing_bytes_after_quote").get<std::size_t>());
            return b;
        }
    }
    FAIL("no MANIFEST entry for " << file);
    return {};
}

const char* const kV4 = "dcapqvl-tdx_quote.bin";
const char* const kV5 = "gotdxguest-quote_v5_sample.bin";
const char* const kV3 = "dcapqvl-sgx_quote.bin";

// A.1 header fields and A.2 TD 1.0 body fields (body offsets relative to the body start).
const std::vector<std::size_t> kHeaderOffsets = {0, 2, 4, 8, 10, 12, 28};
const std::vector<std::size_t> kTdBodyOffsets = {0, 16, 64, 112, 120, 128, 136, 184, 232, 280, 328, 376, 424, 472, 520};

// A.4 absolute offsets: sig-len, sig, att key, outer type, outer size, QE report, QE sig, auth size,
// auth data, inner type, inner size, PEM.
const std::vector<std::size_t> kV4SigOffsets = {632, 636, 700, 764, 766, 770, 1154, 1218, 1220, 1252, 1254, 1258};
const std::vector<std::size_t> kV5SigOffsets = {702, 706, 770, 834, 836, 840, 1224, 1288, 1290, 1322, 1324, 1328};

std::vector<std::size_t> boundaries(bool v5, std::size_t size) {
    std::set<std::size_t> out(kHeaderOffsets.begin(), kHeaderOffsets.end());
    const std::size_t body = v5 ? 54 : 48;
    out.insert(48);
    if (v5) {
        out.insert(50);  // A.3 descriptor: body type @48, body size @50
        out.insert(54);
        out.insert(body + 584);  // TEE_TCB_SVN2
        out.insert(body + 600);  // MRSERVICETD
    }
    for (const auto o : kTdBodyOffsets) out.insert(body + o);
    for (const auto o : v5 ? kV5SigOffsets : kV4SigOffsets) {
        out.insert(o);
        out.insert(o + 1);
    }
    out.insert(size - 1);
    return {out.begin(), out.end()};
}

void put_le(Bytes& b, std::size_t off, unsigned width, std::uint32_t v) {
    for (unsigned i = 0; i < width; ++i) b.at(off + i) = static_cast<std::uint8_t>(v >> (8U * i));
}

std::string as_string(const Bytes& b, std::size_t n) { return {reinterpret_cast<const char*>(b.data()), n}; }

}  // namespace

TEST_CASE("every proper prefix of a real v3, v4 and v5 quote is rejected with Error(malformed)") {
    for (const char* name : {kV4, kV5, kV3}) {
        CAPTURE(name);
        const Bytes q = exact_quote(name);
        REQUIRE(q.size() == parse_quote(q).raw.size());
        std::size_t accepted = 0;
        std::size_t wrong = 0;
        for (std::size_t n = 0; n < q.size(); ++n) {
            try {
                (void)parse_quote(ByteSpan(q).first(n));
                ++accepted;
                INFO("prefix " << n << " accepted");
                CHECK(false);
            } catch (const Error& e) {
                const std::string msg = e.what();
                if (e.code() != Errc::malformed || msg.find("offset ") == std::string::npos ||
                    msg.find("truncated") == std::string::npos) {
                    ++wrong;
                    INFO("prefix " << n << ": " << errc_name(e.code()) << ": " << msg);
                    CHECK(false);
                }
            }
        }
        CHECK(accepted == 0);
        CHECK(wrong == 0);
    }
}

TEST_CASE("the truncation message names the offset of the structure that is cut") {
    const Bytes q = exact_quote(kV4);
    const auto message = [&](std::size_t n) -> std::string {
        try {
            (void)parse_quote(ByteSpan(q).first(n));
        } catch (const Error& e) {
            return e.what();
        }
        return "accepted";
    };
    CHECK(message(0) == "quote at offset 0: quote header needs 48 bytes, only 0 left (truncated)");
    CHECK(message(47) == "quote at offset 0: quote header needs 48 bytes, only 47 left (truncated)");
    CHECK(message(100) == "quote at offset 48: quote body (TD report 1.0) needs 584 bytes, only 52 left (truncated)");
    CHECK(message(634) == "quote at offset 632: signature_data_len needs 4 bytes, only 2 left (truncated)");
    CHECK(message(4935) == "quote at offset 636: quote signature data needs 4300 bytes, only 4299 left (truncated)");
}

TEST_CASE("length fields set to extreme values are rejected with Error, never a crash") {
    struct Field {
        const char* quote;
        std::size_t offset;
        unsigned width;
        const char* name;
    };
    const Field fields[] = {
        {kV4, 632, 4, "signature_data_len"},    {kV4, 766, 4, "outer certification data size"},
        {kV4, 1218, 2, "QE auth data size"},    {kV4, 1254, 4, "inner certification data size"},
        {kV5, 50, 4, "v5 body size"},           {kV5, 702, 4, "v5 signature_data_len"},
        {kV5, 836, 4, "v5 outer size"},         {kV5, 1288, 2, "v5 QE auth data size"},
        {kV5, 1324, 4, "v5 inner size"},        {kV3, 432, 4, "v3 signature_data_len"},
        {kV3, 1012, 2, "v3 QE auth data size"}, {kV3, 1048, 4, "v3 certification data size"},
    };
    const std::uint32_t values[] = {0,      1,       0x7f,       0x80,       0xff,       0x7fff,    0x8000,
                                    0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
    for (const auto& f : fields) {
        CAPTURE(f.name);
        const Bytes good = exact_quote(f.quote);
        // Whole-field values.
        for (const auto v : values) {
            Bytes bad = good;
            put_le(bad, f.offset, f.width, v);
            if (bad == good) continue;
            CAPTURE(v);
            CHECK_THROWS_AS((void)parse_quote(bad), Error);
        }
        // Single-byte corruption of each byte of the field.
        for (unsigned i = 0; i < f.width; ++i) {
            for (const std::uint8_t x :
                 {std::uint8_t{0x00}, std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
                Bytes bad = good;
                bad[f.offset + i] = x;
                if (bad == good) continue;
                CAPTURE(i);
                CAPTURE(static_cast<int>(x));
                CHECK_THROWS_AS((void)parse_quote(bad), Error);
            }
        }
    }
}

TEST_CASE("flipping any single byte of a real quote: parsed or Error, nothing else") {
    for (const char* name : {kV4, kV5, kV3}) {
        CAPTURE(name);
        const Bytes good = exact_quote(name);
        std::size_t errors = 0;
        for (std::size_t i = 0; i < good.size(); ++i) {
            Bytes bad = good;
            bad[i] ^= 0xff;
            try {
                const Quote q = parse_quote(bad);
                CHECK(serialize_quote(q) == q.raw);
            } catch (const Error&) {
                ++errors;
            }
        }
        // The header, descriptor and length fields at least must be checked.
        CHECK(errors >= 10);
    }
}

TEST_CASE("tdxkit quote decode on truncated quotes: exit 3, one line naming an offset, no crash") {
    std::size_t runs = 0;
    for (const char* name : {kV4, kV5}) {
        CAPTURE(name);
        const Bytes q = exact_quote(name);
        const bool v5 = std::string(name) == kV5;
        std::vector<std::size_t> offsets = boundaries(v5, q.size());
        constexpr std::size_t kEven = 25;
        for (std::size_t i = 0; i < kEven; ++i) offsets.push_back(i * q.size() / kEven);
        std::sort(offsets.begin(), offsets.end());
        offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
        for (const auto n : offsets) {
            REQUIRE(n < q.size());
            CAPTURE(n);
            const auto r = test::run_tdxkit({"quote", "decode", "--format", "raw", "-"}, as_string(q, n));
            ++runs;
            CHECK(r.exit_code < 128);
            CHECK(r.exit_code == 3);
            CHECK(r.out.empty());
            CHECK(r.err.starts_with("tdxkit: error: "));
            CHECK(r.err.find("offset ") != std::string::npos);
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        }
    }
    MESSAGE("binary runs: " << runs);
}

TEST_CASE("tdxkit quote decode on quotes with hostile length fields: exit 3, no crash") {
    const std::pair<const char*, std::vector<std::pair<std::size_t, unsigned>>> cases[] = {
        {kV4, {{632, 4}, {766, 4}, {1218, 2}, {1254, 4}}},
        {kV5, {{50, 4}, {702, 4}, {836, 4}, {1288, 2}, {1324, 4}}},
    };
    for (const auto& [name, fields] : cases) {
        const Bytes good = exact_quote(name);
        for (const auto& [off, width] : fields) {
            CAPTURE(name);
            CAPTURE(off);
            Bytes bad = good;
            put_le(bad, off, width, 0xffffffffU);
            const auto r = test::run_tdxkit({"--json", "quote", "decode", "-"}, as_string(bad, bad.size()));
            CHECK(r.exit_code == 3);
            CHECK(r.out.empty());
            CHECK(r.err.find("offset ") != std::string::npos);
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        }
    }
}
