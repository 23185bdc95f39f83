// The kernel as OVMF measures it into RTMR1, and the command line into RTMR2 (dstack-mr kernel.rs,
// which mirrors QEMU's x86_load_linux). Every header field is read only after its offset is checked.

#include <algorithm>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "core/utf8.hpp"
#include "crypto/ossl.hpp"
#include "measure/boot_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure_boot.hpp"

namespace tdxkit {
namespace {

using detail::load_le;
using detail::store_le;

// Linux boot protocol setup header (Documentation/arch/x86/boot.rst).
constexpr std::size_t kMinKernelSize = 0x1000;
constexpr std::size_t kSetupLegacyCmdlineMagic = 0x20;
constexpr std::size_t kSetupLegacyCmdlineOffset = 0x22;
constexpr std::size_t kSetupProtocol = 0x206;
constexpr std::size_t kSetupTypeOfLoader = 0x210;
constexpr std::size_t kSetupLoadflags = 0x211;
constexpr std::size_t kSetupRamdiskImage = 0x218;
constexpr std::size_t kSetupRamdiskSize = 0x21C;
constexpr std::size_t kSetupHeapEnd = 0x224;
constexpr std::size_t kSetupCmdLinePtr = 0x228;
constexpr std::size_t kSetupInitrdAddrMax = 0x22C;
constexpr std::size_t kSetupXloadflags = 0x236;
constexpr std::uint8_t kLoadflagsLoadedHigh = 0x01;
constexpr std::uint8_t kLoadflagsCanUseHeap = 0x80;
constexpr std::uint16_t kXlfCanBeLoadedAbove4G = 0x40;
constexpr std::uint8_t kLoaderTypeQemu = 0xB0;
// QEMU reserves this much below the top of low memory for ACPI (dstack-mr passes it at every call).
constexpr std::uint64_t kAcpiDataSize = 0x28000;
constexpr std::uint64_t kDefaultInitrdMax = 0x37FFFFFF;

constexpr std::size_t kPeSignatureSize = 4;
constexpr std::size_t kCoffHeaderSize = 20;
constexpr std::size_t kSectionHeaderSize = 40;
constexpr std::uint16_t kPe32PlusMagic = 0x20B;

[[noreturn]] void pe_fail(const std::string& why) {
    throw Error(Errc::malformed, fmt::format("kernel PE image: {}", why));
}

// The range [offset, offset + size) must lie in an image of `length` bytes.
void pe_require(std::uint64_t offset, std::uint64_t size, std::size_t length, std::string_view what) {
    if (offset > length || size > length - offset) {
        pe_fail(fmt::format("{} at {:#x} (+{:#x}) lies outside the {:#x}-byte image", what, offset, size, length));
    }
}

}  // namespace

Bytes detail::utf16le(std::string_view text, std::string_view what) {
    Bytes out;
    out.reserve(text.size() * 2 + 2);
    const auto unit = [&](std::uint32_t u) {
        out.push_back(static_cast<std::uint8_t>(u));
        out.push_back(static_cast<std::uint8_t>(u >> 8U));
    };
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<std::uint8_t>(text[i]);
        const std::size_t n = lead < 0x80 ? 1 : utf8_sequence(text.substr(i));
        if (n == 0) throw Error(Errc::invalid_argument, fmt::format("{}: invalid UTF-8 at byte {}", what, i));
        // The sequence is well formed: the lead byte's payload bits, then six from each continuation byte.
        std::uint32_t cp = n == 1 ? lead : lead & (0x7FU >> n);
        for (std::size_t k = 1; k < n; ++k) cp = (cp << 6U) | (static_cast<std::uint8_t>(text[i + k]) & 0x3FU);
        if (cp >= 0x10000) {
            unit(0xD800 + ((cp - 0x10000) >> 10U));
            unit(0xDC00 + ((cp - 0x10000) & 0x3FFU));
        } else {
            unit(cp);
        }
        i += n;
    }
    return out;
}

Bytes patch_kernel_setup_header(ByteSpan kernel, std::uint64_t initrd_size, std::uint64_t memory_size) {
    if (kernel.size() < kMinKernelSize) {
        throw Error(Errc::malformed, fmt::format("kernel: {} bytes is too short for a bzImage setup header (needs {})",
                                                 kernel.size(), kMinKernelSize));
    }
    Bytes k(kernel.begin(), kernel.end());
    const auto protocol = load_le(k, kSetupProtocol, 2);
    const bool loaded_high = protocol >= 0x200 && (k[kSetupLoadflags] & kLoadflagsLoadedHigh) != 0;
    const std::uint64_t real_addr = loaded_high ? 0x10000 : 0x90000;
    const std::uint64_t cmdline_addr = loaded_high ? 0x20000 : 0x9A000;
    if (protocol >= 0x200) k[kSetupTypeOfLoader] = kLoaderTypeQemu;
    if (protocol >= 0x201) {
        k[kSetupLoadflags] |= kLoadflagsCanUseHeap;
        // dstack-mr writes 4 bytes where QEMU writes 2: ext_loader_ver and ext_loader_type become 0.
        store_le(k, kSetupHeapEnd, cmdline_addr - real_addr - 0x200, 4);
    }
    if (protocol >= 0x202) {
        store_le(k, kSetupCmdLinePtr, cmdline_addr, 4);
    } else {
        store_le(k, kSetupLegacyCmdlineMagic, 0xA33F, 2);
        store_le(k, kSetupLegacyCmdlineOffset, cmdline_addr - real_addr, 2);
    }
    if (initrd_size == 0) return k;
    if (initrd_size > std::numeric_limits<std::uint32_t>::max()) {
        throw Error(Errc::invalid_argument,
                    fmt::format("initrd: {} bytes does not fit the 32-bit ramdisk_size field", initrd_size));
    }
    if (protocol < 0x200) {
        throw Error(Errc::unsupported,
                    fmt::format("kernel: boot protocol {:#x} predates initrd support (2.00)", protocol));
    }
    std::uint64_t initrd_max = kDefaultInitrdMax;
    if (protocol >= 0x20C) {
        if ((load_le(k, kSetupXloadflags, 2) & kXlfCanBeLoadedAbove4G) != 0) initrd_max = 0xFFFFFFFF;
    } else if (protocol >= 0x203) {
        const auto field = load_le(k, kSetupInitrdAddrMax, 4);
        if (field != 0) initrd_max = field;
    }
    const std::uint64_t lowmem = memory_size < 0xB0000000 ? 0xB0000000 : 0x80000000;
    const std::uint64_t below_4g = memory_size >= lowmem ? lowmem : memory_size;
    if (below_4g <= kAcpiDataSize) {
        throw Error(Errc::invalid_argument, fmt::format("memory size {:#x} leaves no room for an initrd", memory_size));
    }
    const auto available = below_4g - kAcpiDataSize;
    if (initrd_max >= available) initrd_max = available - 1;
    if (initrd_size >= initrd_max) {
        throw Error(Errc::invalid_argument,
                    fmt::format("initrd: {} bytes does not fit below {:#x} with {:#x} bytes of memory", initrd_size,
                                initrd_max, memory_size));
    }
    store_le(k, kSetupRamdiskImage, (initrd_max - initrd_size) & ~std::uint64_t{0xFFF}, 4);
    store_le(k, kSetupRamdiskSize, initrd_size, 4);
    return k;
}

Measurement authenticode_sha384(ByteSpan pe) {
    const auto length = pe.size();
    pe_require(0x3C, 4, length, "the DOS header's e_lfanew");
    const auto signature_at = load_le(pe, 0x3C, 4);
    pe_require(signature_at, kPeSignatureSize + kCoffHeaderSize + 2, length, "the PE signature and COFF header");
    if (load_le(pe, signature_at, 4) != 0x00004550) {
        pe_fail(fmt::format("no \"PE\\0\\0\" signature at {:#x} (e_lfanew); is this a bzImage built with "
                            "CONFIG_EFI_STUB?",
                            signature_at));
    }
    const auto coff = signature_at + kPeSignatureSize;
    const auto section_count = load_le(pe, coff + 2, 2);
    const auto optional_size = load_le(pe, coff + 16, 2);
    const auto optional = coff + kCoffHeaderSize;
    const bool pe32_plus = load_le(pe, optional, 2) == kPe32PlusMagic;
    const auto checksum = optional + 64;
    const auto cert_dir = optional + (pe32_plus ? 112 : 96) + 4 * 8;  // data directory 4: certificates
    pe_require(optional + 60, 4, length, "the optional header's SizeOfHeaders");
    const auto headers_size = load_le(pe, optional + 60, 4);
    pe_require(cert_dir, 8, length, "the certificate table directory entry");
    if (cert_dir + 8 > headers_size || headers_size > length) {
        pe_fail(fmt::format("SizeOfHeaders {:#x} must cover the certificate directory (ends at {:#x}) and lie in the "
                            "{:#x}-byte image",
                            headers_size, cert_dir + 8, length));
    }
    const auto sections_at = optional + optional_size;
    pe_require(sections_at, section_count * kSectionHeaderSize, length, "the section table");

    ossl::Sha384Stream hash;
    const auto range = [&](std::uint64_t begin, std::uint64_t end) {
        hash.update(pe.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)));
    };
    // The headers without the checksum and the certificate directory entry.
    range(0, checksum);
    range(checksum + 4, cert_dir);
    range(cert_dir + 8, headers_size);
    struct Section {
        std::uint64_t pointer;
        std::uint64_t size;
    };
    std::vector<Section> sections;
    for (std::uint64_t i = 0; i < section_count; ++i) {
        const auto at = static_cast<std::size_t>(sections_at + i * kSectionHeaderSize);
        const Section s{load_le(pe, at + 20, 4), load_le(pe, at + 16, 4)};
        if (s.size > 0) sections.push_back(s);
    }
    std::ranges::stable_sort(sections, {}, &Section::pointer);
    // dstack-mr hashes what of each section the file holds but counts its full size.
    std::uint64_t hashed = headers_size;
    for (const auto& s : sections) {
        if (s.pointer < length) range(s.pointer, std::min<std::uint64_t>(s.pointer + s.size, length));
        hashed += s.size;
    }
    // Data after the sections is hashed only when a certificate table says where the image ends.
    const auto cert_size = load_le(pe, cert_dir + 4, 4);
    if (load_le(pe, cert_dir, 4) > 0 && cert_size > 0 && length > hashed && length - hashed > cert_size) {
        range(hashed, length - cert_size);
    }
    if (length % 8 != 0) {
        const Octets<8> zeros{};
        hash.update(ByteSpan(zeros).first(8 - length % 8));
    }
    return hash.finish();
}

Measurement cmdline_digest(std::string_view cmdline) {
    auto units = detail::utf16le(std::string(cmdline) + " initrd=initrd", "kernel command line");
    units.insert(units.end(), {0, 0});
    return sha384(units);
}

}  // namespace tdxkit
