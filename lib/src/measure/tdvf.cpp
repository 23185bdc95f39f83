// TDVF (OVMF for TDX) metadata and MRTD, as dstack-mr (tdvf.rs, machine.rs) computes them. Unlike
// dstack-mr, every offset read from the image is checked before use (lib/docs/measure.md, "Where
// tdxkit is stricter").

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "core/reader.hpp"
#include "crypto/ossl.hpp"
#include "measure/boot_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure_boot.hpp"

namespace tdxkit {
namespace {

// The OVMF GUIDed table footer and the entry holding the offset of the TDX metadata (edk2
// OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm).
constexpr Octets<16> kTableFooterGuid = detail::efi_guid("96b582de-1fb2-45f7-baea-a366c55a082d");
constexpr Octets<16> kTdxMetadataOffsetGuid = detail::efi_guid("e47a6535-984a-4798-865e-4685a7bf8ec2");
// The reset vector and AP entry at the very end of the image precede the table (reading backwards).
constexpr std::size_t kResetVectorSize = 32;
constexpr std::size_t kGuidSize = 16;
constexpr std::size_t kEntryTrailerSize = 2 + kGuidSize;  // u16 length + GUID after each entry's data
constexpr std::size_t kDescriptorSize = 16;
constexpr std::size_t kSectionSize = 32;
// Real TDVF images have 4-8 sections; the cap keeps a hostile count from costing anything.
constexpr std::uint32_t kMaxSections = 64;
// OVMF's sections cover a few MiB of guest memory; MRTD costs a record per page, so a hostile size
// must not turn one image into hours of hashing.
constexpr std::uint64_t kMaxSectionMemory = 256 * 1024 * 1024;
constexpr std::uint64_t kChunkSize = 0x100;
using detail::kPageSize;
using detail::load_le;

// The offset of the TDVF descriptor, from the table's TDX metadata entry. dstack-mr walks the table
// from the footer down; the walk here is the same but stops at the table's first byte and refuses an
// entry length that would not advance (dstack-mr loops forever on 0).
std::size_t find_descriptor(ByteSpan fw) {
    if (fw.size() < kResetVectorSize + kEntryTrailerSize) {
        throw Error(Errc::malformed, fmt::format("firmware: {} bytes is too short for an OVMF GUIDed table footer "
                                                 "(needs {}); is this an OVMF/TDVF image?",
                                                 fw.size(), kResetVectorSize + kEntryTrailerSize));
    }
    const std::size_t footer_end = fw.size() - kResetVectorSize;
    const auto footer_guid = fw.subspan(footer_end - kGuidSize, kGuidSize);
    if (!std::equal(footer_guid.begin(), footer_guid.end(), kTableFooterGuid.begin())) {
        throw Error(Errc::malformed,
                    fmt::format("firmware at offset {}: the OVMF GUIDed table footer GUID is {}, expected "
                                "96b582de-1fb2-45f7-baea-a366c55a082d; not an OVMF/TDVF image, or truncated",
                                footer_end - kGuidSize, to_hex(footer_guid)));
    }
    const auto table_size = static_cast<std::size_t>(load_le(fw, footer_end - kEntryTrailerSize, 2));
    if (table_size < kEntryTrailerSize || table_size > footer_end) {
        throw Error(Errc::malformed, fmt::format("firmware at offset {}: the GUIDed table length {} is outside 18..{}",
                                                 footer_end - kEntryTrailerSize, table_size, footer_end));
    }
    const std::size_t table_start = footer_end - table_size;
    std::size_t entry_end = footer_end - kEntryTrailerSize;  // the footer's own trailer is not an entry
    while (entry_end - table_start >= kEntryTrailerSize) {
        const std::size_t trailer = entry_end - kEntryTrailerSize;
        const auto guid = fw.subspan(trailer + 2, kGuidSize);
        const auto entry_size = static_cast<std::size_t>(load_le(fw, trailer, 2));
        if (entry_size < kEntryTrailerSize || entry_size > entry_end - table_start) {
            throw Error(Errc::malformed,
                        fmt::format("firmware at offset {}: GUIDed table entry {} has length {}, outside 18..{}",
                                    trailer, to_hex(guid), entry_size, entry_end - table_start));
        }
        if (std::equal(guid.begin(), guid.end(), kTdxMetadataOffsetGuid.begin())) {
            if (entry_size < kEntryTrailerSize + 4) {
                throw Error(Errc::malformed,
                            fmt::format("firmware at offset {}: the TDX metadata entry has no 4-byte offset", trailer));
            }
            const auto from_end = load_le(fw, trailer - 4, 4);
            if (from_end < kDescriptorSize || from_end > fw.size()) {
                throw Error(Errc::malformed,
                            fmt::format("firmware at offset {}: the TDX metadata offset {} (from the end of the "
                                        "{}-byte image) is outside it",
                                        trailer - 4, from_end, fw.size()));
            }
            return fw.size() - static_cast<std::size_t>(from_end);
        }
        entry_end -= entry_size;
    }
    throw Error(Errc::malformed, "firmware: the OVMF GUIDed table has no TDX metadata entry "
                                 "(e47a6535-984a-4798-865e-4685a7bf8ec2); this OVMF was built without TDX support");
}

void check_section(const TdvfSection& s, std::size_t index, std::size_t firmware_size) {
    const auto fail = [&](const std::string& why) {
        throw Error(Errc::malformed,
                    fmt::format("firmware: TDVF section {} ({}): {}", index, tdvf_section_type_name(s.type), why));
    };
    if (s.memory_address % kPageSize != 0) fail(fmt::format("address {:#x} is not page aligned", s.memory_address));
    if (s.memory_data_size % kPageSize != 0) {
        fail(fmt::format("memory size {:#x} is not a multiple of 4 KiB", s.memory_data_size));
    }
    if (s.memory_data_size < s.raw_data_size) {
        fail(fmt::format("memory size {:#x} is smaller than its raw size {:#x}", s.memory_data_size, s.raw_data_size));
    }
    if (s.memory_address > std::numeric_limits<std::uint64_t>::max() - s.memory_data_size) {
        fail("address + size overflows 64 bits");
    }
    if (s.raw_data_size > firmware_size || s.data_offset > firmware_size - s.raw_data_size) {
        fail(fmt::format("its data {:#x}+{:#x} lies outside the {:#x}-byte image", s.data_offset, s.raw_data_size,
                         firmware_size));
    }
    // MR.EXTEND reads the whole memory size from the image (QEMU maps the section from the file).
    if ((s.attributes & kTdvfAttributeMrExtend) != 0 &&
        (s.memory_data_size > firmware_size || s.data_offset > firmware_size - s.memory_data_size)) {
        fail(fmt::format("it is measured (MR_EXTEND) over {:#x}+{:#x}, outside the {:#x}-byte image", s.data_offset,
                         s.memory_data_size, firmware_size));
    }
}

}  // namespace

std::string tdvf_section_type_name(std::uint32_t type) {
    switch (static_cast<TdvfSectionType>(type)) {
    case TdvfSectionType::bfv: return "BFV";
    case TdvfSectionType::cfv: return "CFV";
    case TdvfSectionType::td_hob: return "TD_HOB";
    case TdvfSectionType::temp_mem: return "TEMP_MEM";
    }
    return fmt::format("type {}", type);
}

TdvfMetadata parse_tdvf(ByteSpan firmware) {
    if (firmware.size() > kMaxFirmwareSize) {
        throw Error(Errc::malformed, fmt::format("firmware: {} bytes is larger than the {} MiB limit", firmware.size(),
                                                 kMaxFirmwareSize >> 20));
    }
    TdvfMetadata meta;
    meta.descriptor_offset = find_descriptor(firmware);
    wire::Reader r(firmware.subspan(meta.descriptor_offset), "firmware: TDVF descriptor", meta.descriptor_offset);
    const auto signature = r.array<4>("signature");
    if (signature != Octets<4>{'T', 'D', 'V', 'F'}) {
        throw Error(Errc::malformed, fmt::format("firmware at offset {}: the TDVF descriptor signature is {}, "
                                                 "expected \"TDVF\" (54445646)",
                                                 meta.descriptor_offset, to_hex(signature)));
    }
    (void)r.le<std::uint32_t>("length");  // dstack-mr ignores it; the section count bounds the table
    const auto version = r.le<std::uint32_t>("version");
    if (version != 1) {
        throw Error(Errc::unsupported,
                    fmt::format("firmware: TDVF descriptor version {}; tdxkit and dstack-mr read version 1", version));
    }
    const auto count = r.le<std::uint32_t>("number of sections");
    if (count == 0 || count > kMaxSections) {
        throw Error(Errc::malformed, fmt::format("firmware: the TDVF descriptor lists {} sections (expected 1..{})",
                                                 count, kMaxSections));
    }
    for (std::uint32_t i = 0; i < count; ++i) {
        auto s = r.sub(kSectionSize, "firmware: TDVF section table");
        TdvfSection section;
        section.data_offset = s.le<std::uint32_t>("data offset");
        section.raw_data_size = s.le<std::uint32_t>("raw data size");
        section.memory_address = s.le<std::uint64_t>("memory address");
        section.memory_data_size = s.le<std::uint64_t>("memory data size");
        section.type = s.le<std::uint32_t>("type");
        section.attributes = s.le<std::uint32_t>("attributes");
        check_section(section, i, firmware.size());
        meta.sections.push_back(section);
    }
    std::uint64_t total_memory = 0;
    for (const auto& s : meta.sections) {
        total_memory += std::min(s.memory_data_size, kMaxSectionMemory + 1);
    }
    if (total_memory > kMaxSectionMemory) {
        throw Error(Errc::malformed, fmt::format("firmware: the TDVF sections cover more than {} MiB of guest memory; "
                                                 "OVMF's cover a few MiB",
                                                 kMaxSectionMemory >> 20));
    }
    // Two sections backed by the same guest page would make the TDX module refuse the second
    // PAGE.ADD; such an image cannot boot, so its prediction would be meaningless.
    for (std::size_t i = 0; i < meta.sections.size(); ++i) {
        for (std::size_t j = i + 1; j < meta.sections.size(); ++j) {
            const auto& a = meta.sections[i];
            const auto& b = meta.sections[j];
            if (a.memory_data_size != 0 && b.memory_data_size != 0 &&
                a.memory_address < b.memory_address + b.memory_data_size &&
                b.memory_address < a.memory_address + a.memory_data_size) {
                throw Error(Errc::malformed,
                            fmt::format("firmware: TDVF sections {} ({}) and {} ({}) overlap in guest memory", i,
                                        tdvf_section_type_name(a.type), j, tdvf_section_type_name(b.type)));
            }
        }
    }
    return meta;
}

const char* page_order_name(PageOrder order) noexcept {
    return order == PageOrder::two_pass ? "two_pass" : "single_pass";
}

PageOrder page_order_for_qemu(const std::optional<std::string>& qemu_version) {
    if (!qemu_version) return PageOrder::single_pass;  // dstack-mr assumes 9.1.0
    std::array<std::uint32_t, 3> parts{};
    std::string_view rest = *qemu_version;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto dot = i + 1 < parts.size() ? rest.find('.') : rest.size();
        const auto field = rest.substr(0, dot);
        const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), parts[i]);
        if (field.empty() || ec != std::errc{} || end != field.data() + field.size() || dot == std::string_view::npos) {
            throw Error(Errc::invalid_argument,
                        fmt::format("QEMU version \"{}\" is not MAJOR.MINOR.PATCH (e.g. 8.2.2); dstack-mr reads "
                                    "no other form, so give the upstream version without a distribution suffix",
                                    *qemu_version));
        }
        rest = dot < rest.size() ? rest.substr(dot + 1) : std::string_view{};
    }
    if (parts[0] < 8) {
        throw Error(Errc::invalid_argument,
                    fmt::format("QEMU version {} is older than 8.0.0, which no TDX-capable QEMU is", *qemu_version));
    }
    return parts[0] == 8 ? PageOrder::two_pass : PageOrder::single_pass;
}

Measurement compute_mrtd(ByteSpan firmware, const TdvfMetadata& metadata, PageOrder order) {
    ossl::Sha384Stream hash;
    // Records and data go through one buffer so that a 4 MiB image costs a hundred digest updates,
    // not 17,000 (bench: build/release/tests/tdxkit_measure_bench).
    constexpr std::size_t kBufferSize = std::size_t{1} << 16;
    constexpr std::size_t kRecordSize = 128;
    std::vector<std::uint8_t> buffer(kBufferSize);
    std::size_t used = 0;
    // A TDX module record: the operation's name, zeros, the GPA at bytes 16..24, zeros.
    const auto record = [&](std::string_view operation, std::uint64_t gpa) {
        if (used + kRecordSize + kChunkSize > kBufferSize) {
            hash.update(ByteSpan(buffer).first(used));
            used = 0;
        }
        auto* r = buffer.data() + used;
        std::memset(r, 0, kRecordSize);
        std::memcpy(r, operation.data(), operation.size());
        detail::store_le(std::span(r, kRecordSize), 16, gpa, 8);
        used += kRecordSize;
    };
    const auto page_add = [&](std::uint64_t gpa) { record("MEM.PAGE.ADD", gpa); };
    const auto extend_page = [&](const TdvfSection& s, std::uint64_t page) {
        for (std::uint64_t chunk = 0; chunk < kPageSize / kChunkSize; ++chunk) {
            const auto offset = page * kPageSize + chunk * kChunkSize;
            record("MR.EXTEND", s.memory_address + offset);
            std::memcpy(buffer.data() + used, firmware.data() + s.data_offset + offset, kChunkSize);
            used += kChunkSize;
        }
    };
    for (std::size_t index = 0; index < metadata.sections.size(); ++index) {
        const auto& s = metadata.sections[index];
        const bool extend = (s.attributes & kTdvfAttributeMrExtend) != 0;
        const bool add = (s.attributes & kTdvfAttributePageAug) == 0;
        const bool outside =
            extend && (s.memory_data_size > firmware.size() || s.data_offset > firmware.size() - s.memory_data_size);
        if (outside || s.memory_data_size > kMaxSectionMemory) {
            throw Error(Errc::invalid_argument,
                        fmt::format("compute_mrtd: section {} lies outside the firmware given or exceeds {} MiB; "
                                    "pass the metadata parse_tdvf returned for these bytes",
                                    index, kMaxSectionMemory >> 20));
        }
        const auto pages = s.memory_data_size / kPageSize;
        if (order == PageOrder::two_pass) {
            if (add) {
                for (std::uint64_t p = 0; p < pages; ++p) page_add(s.memory_address + p * kPageSize);
            }
            if (extend) {
                for (std::uint64_t p = 0; p < pages; ++p) extend_page(s, p);
            }
        } else {
            for (std::uint64_t p = 0; p < pages; ++p) {
                if (add) page_add(s.memory_address + p * kPageSize);
                if (extend) extend_page(s, p);
            }
        }
    }
    hash.update(ByteSpan(buffer).first(used));
    return hash.finish();
}

}  // namespace tdxkit
