// The TD HOB OVMF measures first into RTMR0 (dstack-mr tdvf.rs: MemoryAcceptor, td_hob), and dstack's
// compact witness of its layout (the td_hob member of measurement.tdx.cbor).

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "measure/boot_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure_boot.hpp"

namespace tdxkit {
namespace {

using detail::kPageSize;

constexpr std::uint16_t kHobTypePhit = 0x0001;
constexpr std::uint16_t kHobTypeResourceDescriptor = 0x0003;
constexpr std::size_t kPhitSize = 56;
constexpr std::size_t kResourceDescriptorSize = 48;
constexpr std::uint32_t kPhitVersion = 9;
constexpr std::uint32_t kResourceSystemMemory = 0x00;      // EFI_RESOURCE_SYSTEM_MEMORY: accepted
constexpr std::uint32_t kResourceMemoryUnaccepted = 0x07;  // EFI_RESOURCE_MEMORY_UNACCEPTED
constexpr std::uint32_t kResourceAttributes = 0x07;        // present | initialized | tested
constexpr std::size_t kEndOfHobListSize = 8;               // counted in EfiEndOfHobList, not hashed
// QEMU's q35 puts 2 GiB below 4 GiB once RAM reaches 0xB0000000 and the rest above 4 GiB.
constexpr std::uint64_t kQ35SplitThreshold = 0xB0000000;
constexpr std::uint64_t kLowMemoryTop = 0x80000000;
constexpr std::uint64_t kHighMemoryBase = 0x100000000;
// A witness names a handful of ranges; far more is not a TDVF layout.
constexpr std::uint64_t kMaxWitnessRanges = 256;

void sort_and_check(TdHobLayout& layout, std::string_view source) {
    if (layout.accepted.empty()) {
        throw Error(Errc::malformed, fmt::format("{}: no TD_HOB or TEMP_MEM range to accept", source));
    }
    std::ranges::sort(layout.accepted, {}, &MemoryRange::start);
    for (std::size_t i = 0; i < layout.accepted.size(); ++i) {
        const auto& r = layout.accepted[i];
        if (r.size == 0) throw Error(Errc::malformed, fmt::format("{}: accepted range {} is empty", source, i));
        if (r.start > std::numeric_limits<std::uint64_t>::max() - r.size) {
            throw Error(Errc::malformed, fmt::format("{}: accepted range {} overflows 64 bits", source, i));
        }
        if (i > 0 && layout.accepted[i - 1].start + layout.accepted[i - 1].size > r.start) {
            throw Error(Errc::malformed, fmt::format("{}: accepted ranges at {:#x} and {:#x} overlap", source,
                                                     layout.accepted[i - 1].start, r.start));
        }
    }
}

class WitnessReader {
public:
    explicit WitnessReader(ByteSpan bytes) : bytes_(bytes) {}

    std::uint64_t varuint(std::string_view field) {
        std::uint64_t value = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (pos_ >= bytes_.size()) {
                throw Error(Errc::malformed, fmt::format("TD HOB witness: {} is truncated at byte {}", field, pos_));
            }
            const auto byte = bytes_[pos_++];
            const std::uint64_t bits = byte & 0x7FU;
            if (shift >= 64 || (shift == 63 && bits > 1)) {
                throw Error(Errc::malformed, fmt::format("TD HOB witness: {} does not fit 64 bits", field));
            }
            value |= bits << shift;
            if ((byte & 0x80U) == 0) return value;
        }
    }

    std::uint64_t address(std::uint64_t pages, std::string_view field) const {
        if (pages > std::numeric_limits<std::uint64_t>::max() / kPageSize) {
            throw Error(Errc::malformed, fmt::format("TD HOB witness: {} ({} pages) overflows 64 bits", field, pages));
        }
        return pages * kPageSize;
    }

    [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }

private:
    ByteSpan bytes_;
    std::size_t pos_ = 0;
};

std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, std::string_view field) {
    if (a > std::numeric_limits<std::uint64_t>::max() - b) {
        throw Error(Errc::malformed, fmt::format("TD HOB witness: {} overflows 64 bits", field));
    }
    return a + b;
}

void put_varuint(Bytes& out, std::uint64_t value) {
    do {
        auto byte = static_cast<std::uint8_t>(value & 0x7FU);
        value >>= 7U;
        if (value != 0) byte |= 0x80U;
        out.push_back(byte);
    } while (value != 0);
}

void append_resource_hob(Bytes& hob, std::uint32_t resource_type, std::uint64_t start, std::uint64_t length) {
    const auto at = hob.size();
    hob.resize(at + kResourceDescriptorSize, 0);
    const std::span<std::uint8_t> r(hob.data() + at, kResourceDescriptorSize);
    detail::store_le(r, 0, kHobTypeResourceDescriptor, 2);
    detail::store_le(r, 2, kResourceDescriptorSize, 2);
    // bytes 8..24: owner GUID, zero
    detail::store_le(r, 24, resource_type, 4);
    detail::store_le(r, 28, kResourceAttributes, 4);
    detail::store_le(r, 32, start, 8);
    detail::store_le(r, 40, length, 8);
}

}  // namespace

TdHobLayout td_hob_layout(const TdvfMetadata& metadata) {
    TdHobLayout layout;
    std::size_t hob_sections = 0;
    for (const auto& s : metadata.sections) {
        const auto type = static_cast<TdvfSectionType>(s.type);
        if (type != TdvfSectionType::td_hob && type != TdvfSectionType::temp_mem) continue;
        if (type == TdvfSectionType::td_hob) {
            ++hob_sections;
            layout.hob_base = s.memory_address;
        }
        layout.accepted.push_back({s.memory_address, s.memory_data_size});
    }
    if (hob_sections != 1) {
        throw Error(Errc::malformed,
                    fmt::format("firmware: {} TD_HOB sections; a TDVF image has exactly one", hob_sections));
    }
    sort_and_check(layout, "firmware");
    return layout;
}

Bytes encode_td_hob_witness(const TdHobLayout& layout) {
    TdHobLayout checked = layout;
    sort_and_check(checked, "TD HOB layout");
    const auto base = checked.accepted.front().start;
    if (base % kPageSize != 0 || checked.hob_base % kPageSize != 0 || checked.hob_base < base) {
        throw Error(Errc::invalid_argument, "TD HOB layout: addresses must be page aligned, the HOB above the base");
    }
    Bytes out;
    put_varuint(out, base / kPageSize);
    put_varuint(out, (checked.hob_base - base) / kPageSize);
    put_varuint(out, checked.accepted.size());
    for (const auto& r : checked.accepted) {
        if (r.size % kPageSize != 0) throw Error(Errc::invalid_argument, "TD HOB layout: sizes must be page multiples");
        put_varuint(out, (r.start - base) / kPageSize);
        put_varuint(out, r.size / kPageSize);
    }
    return out;
}

TdHobLayout decode_td_hob_witness(ByteSpan witness) {
    WitnessReader r(witness);
    const auto base_page = r.varuint("the base page");
    const auto hob_page = checked_add(base_page, r.varuint("the TD HOB page offset"), "the TD HOB page");
    TdHobLayout layout;
    layout.hob_base = r.address(hob_page, "the TD HOB address");
    const auto count = r.varuint("the range count");
    if (count == 0 || count > kMaxWitnessRanges || count > r.remaining() / 2) {
        throw Error(Errc::malformed, fmt::format("TD HOB witness: {} ranges in {} bytes", count, r.remaining()));
    }
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto start_page = checked_add(base_page, r.varuint("a range start"), "a range start");
        const auto pages = r.varuint("a range length");
        layout.accepted.push_back({r.address(start_page, "a range start"), r.address(pages, "a range length")});
    }
    if (r.remaining() != 0) {
        throw Error(Errc::malformed, fmt::format("TD HOB witness: {} trailing bytes", r.remaining()));
    }
    sort_and_check(layout, "TD HOB witness");
    return layout;
}

Bytes build_td_hob(const TdHobLayout& layout, std::uint64_t memory_size) {
    if (memory_size == 0 || memory_size % kPageSize != 0) {
        throw Error(Errc::invalid_argument,
                    fmt::format("memory size {} bytes is not a positive multiple of 4 KiB", memory_size));
    }
    TdHobLayout checked = layout;
    sort_and_check(checked, "TD HOB layout");
    const auto& top = checked.accepted.back();
    if (top.start + top.size >= memory_size) {
        throw Error(Errc::invalid_argument,
                    fmt::format("memory size {:#x} does not extend past the firmware's accepted memory (up to {:#x})",
                                memory_size, top.start + top.size));
    }
    Bytes hob(kPhitSize, 0);
    detail::store_le(hob, 0, kHobTypePhit, 2);
    detail::store_le(hob, 2, kPhitSize, 2);
    detail::store_le(hob, 8, kPhitVersion, 4);
    // What OVMF reports: the accepted ranges and the unaccepted gaps between them, in address order;
    // the unaccepted rest of RAM is described last, split as q35 maps it.
    std::uint64_t cursor = 0;
    for (const auto& r : checked.accepted) {
        if (r.start > cursor) append_resource_hob(hob, kResourceMemoryUnaccepted, cursor, r.start - cursor);
        append_resource_hob(hob, kResourceSystemMemory, r.start, r.size);
        cursor = r.start + r.size;
    }
    if (memory_size >= kQ35SplitThreshold) {
        if (cursor < kLowMemoryTop) append_resource_hob(hob, kResourceMemoryUnaccepted, cursor, kLowMemoryTop - cursor);
        append_resource_hob(hob, kResourceMemoryUnaccepted, kHighMemoryBase, memory_size - kLowMemoryTop);
    } else {
        append_resource_hob(hob, kResourceMemoryUnaccepted, cursor, memory_size - cursor);
    }
    detail::store_le(hob, 48, layout.hob_base + hob.size() + kEndOfHobListSize, 8);
    return hob;
}

}  // namespace tdxkit
