// CCEL: the TDX firmware event log in the TCG PC Client crypto-agile format (TCG_PCR_EVENT spec-ID
// header, then TCG_PCR_EVENT2 records), MR index 0 = MRTD, 1..4 = RTMR0..3.

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/reader.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"

namespace tdxkit {
namespace {

constexpr std::size_t kAcpiCcelTableSize = 56;
constexpr std::uint8_t kCcTypeTdx = 2;
constexpr std::uint16_t kAlgSha384 = 0x000C;
constexpr std::uint32_t kMaxMrIndex = 4;  // RTMR3
constexpr std::string_view kSpecIdSignature{"Spec ID Event03\0", 16};

struct Algorithm {
    std::uint16_t id = 0;
    std::uint16_t size = 0;
};

// The log area length (LAML) from the ACPI table, after checking that the table is a TDX CCEL.
std::size_t acpi_log_length(ByteSpan table) {
    wire::Reader t(table, "ACPI CCEL table");
    const auto signature = t.array<4>("signature");
    if (!std::equal(signature.begin(), signature.end(), "CCEL")) t.fail("signature is not \"CCEL\"");
    const auto length = t.le<std::uint32_t>("length");
    if (length != kAcpiCcelTableSize || table.size() != kAcpiCcelTableSize) {
        t.fail(
            fmt::format("table length is {} (header says {}), expected {}", table.size(), length, kAcpiCcelTableSize));
    }
    (void)t.bytes(28, "rest of the ACPI header");
    const auto cc_type = t.le<std::uint8_t>("CC type");
    if (cc_type != kCcTypeTdx) t.fail(fmt::format("CC type {} is not TDX ({})", cc_type, kCcTypeTdx));
    (void)t.bytes(3, "CC subtype and reserved");
    const auto laml = t.le<std::uint64_t>("LAML");
    (void)t.le<std::uint64_t>("LASA");
    return static_cast<std::size_t>(std::min<std::uint64_t>(laml, kMaxEventLogSize));
}

std::vector<Algorithm> parse_spec_id_header(wire::Reader& r) {
    (void)r.le<std::uint32_t>("spec ID header MRIndex");
    const auto type = r.le<std::uint32_t>("spec ID header EventType");
    if (type != kEvNoAction) {
        r.fail(fmt::format("the first record has event type {:#x}, expected EV_NO_ACTION (3) with the TCG "
                           "spec ID event; this is not a crypto-agile CCEL log",
                           type));
    }
    (void)r.bytes(20, "spec ID header SHA-1 digest");
    const auto size = r.le<std::uint32_t>("spec ID event size");
    auto ev = r.sub(size, "spec ID event");
    const auto signature = ev.bytes(kSpecIdSignature.size(), "spec ID signature");
    if (!std::equal(signature.begin(), signature.end(), kSpecIdSignature.begin())) {
        ev.fail("signature is not \"Spec ID Event03\"");
    }
    (void)ev.bytes(8, "platform class, spec version, uintn size");
    const auto count = ev.le<std::uint32_t>("numberOfAlgorithms");
    if (count == 0) ev.fail("numberOfAlgorithms is 0");
    // Each entry takes 4 bytes, so the event size bounds the count before anything is allocated.
    if (count > ev.remaining() / 4) ev.fail(fmt::format("numberOfAlgorithms {} does not fit the event", count));
    std::vector<Algorithm> algs;
    for (std::uint32_t i = 0; i < count; ++i) {
        Algorithm a{ev.le<std::uint16_t>("algorithmId"), ev.le<std::uint16_t>("digestSize")};
        if (std::any_of(algs.begin(), algs.end(), [&](const Algorithm& b) { return b.id == a.id; })) {
            ev.fail(fmt::format("algorithm {:#06x} listed twice", a.id));
        }
        algs.push_back(a);
    }
    const auto vendor = ev.le<std::uint8_t>("vendorInfoSize");
    (void)ev.bytes(vendor, "vendorInfo");
    ev.expect_end();
    const auto sha384 = std::find_if(algs.begin(), algs.end(), [](const Algorithm& a) { return a.id == kAlgSha384; });
    if (sha384 == algs.end() || sha384->size != 48) {
        r.fail("the spec ID event lists no SHA-384 (algorithm 0x000c, 48 bytes): RTMRs cannot be replayed");
    }
    return algs;
}

// One TCG_PCR_EVENT2 record; nullopt for records that extend no RTMR.
std::optional<Event> parse_record(wire::Reader& r, const std::vector<Algorithm>& algs, EventLog& out) {
    const auto mr_index = r.le<std::uint32_t>("MRIndex");
    const auto type = r.le<std::uint32_t>("EventType");
    const auto count = r.le<std::uint32_t>("digest count");
    if (count == 0 || count > algs.size()) {
        r.fail(fmt::format("digest count {} (the header lists {} algorithms)", count, algs.size()));
    }
    std::optional<ByteSpan> sha384;
    for (std::uint32_t i = 0; i < count; ++i) {
        const auto id = r.le<std::uint16_t>("digest algorithm");
        const auto alg = std::find_if(algs.begin(), algs.end(), [&](const Algorithm& a) { return a.id == id; });
        if (alg == algs.end()) r.fail(fmt::format("digest algorithm {:#06x} is not in the spec ID header", id));
        const auto digest = r.bytes(alg->size, "digest");
        if (id == kAlgSha384) {
            if (sha384) r.fail("two SHA-384 digests in one record");
            sha384 = digest;
        }
    }
    const auto size = r.le<std::uint32_t>("EventSize");
    const auto data = r.bytes(size, "event data");
    if (type == kEvNoAction || mr_index == 0) {
        ++out.skipped;
        return std::nullopt;
    }
    if (mr_index > kMaxMrIndex) {
        r.fail(fmt::format("MR index {} is none of MRTD (0) and RTMR0-3 (1-4)", mr_index));
    }
    if (!sha384) r.fail("the record has no SHA-384 digest");
    Event e;
    e.imr = mr_index - 1;
    e.event_type = type;
    e.payload.assign(data.begin(), data.end());
    std::copy(sha384->begin(), sha384->end(), e.digest.begin());
    return e;
}

}  // namespace

EventLog parse_ccel(ByteSpan log, std::optional<ByteSpan> acpi_table) {
    EventLog out;
    out.container = "CCEL";
    bool may_fill_area = false;
    if (acpi_table) {
        const auto laml = acpi_log_length(*acpi_table);
        if (log.size() < laml) {
            throw Error(Errc::malformed, fmt::format("CCEL: the log is {} bytes but the ACPI table's log area "
                                                     "(LAML) is {} bytes: the log is truncated",
                                                     log.size(), laml));
        }
        log = log.first(laml);
        may_fill_area = true;
        out.container = "CCEL (ACPI table checked)";
    }
    wire::Reader r(log, "CCEL");
    const auto algs = parse_spec_id_header(r);
    for (std::size_t index = 1;; ++index) {
        const auto rest = log.subspan(r.position());
        if (rest.empty()) {
            if (may_fill_area) break;
            r.fail("the log ends without the 0xFFFFFFFF end marker: it is truncated (give the whole log area, "
                   "or the ACPI CCEL table if the log fills it)");
        }
        const auto start = r.offset();
        const auto is_ff = [](std::uint8_t b) { return b == 0xFF; };
        // The end marker is an MRIndex of 0xFFFFFFFF; the rest of the area is 0xFF padding.
        if (std::all_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(rest.size(), 4)),
                        is_ff)) {
            const auto junk = std::find_if_not(rest.begin(), rest.end(), is_ff);
            if (junk == rest.end()) break;
            throw Error(Errc::malformed,
                        fmt::format("CCEL at offset {}: byte {:#04x} after the end marker at offset "
                                    "{} (only 0xFF padding may follow it)",
                                    start + static_cast<std::size_t>(junk - rest.begin()), *junk, start));
        }
        try {
            if (auto e = parse_record(r, algs, out)) {
                e->index = index;
                e->offset = start;
                out.events.push_back(std::move(*e));
            }
        } catch (const Error& e) {
            throw Error(e.code(), fmt::format("record {} (starting at offset {}): {}", index, start, e.what()));
        }
    }
    return out;
}

}  // namespace tdxkit
