// Synthetic dstack-style image: testdata/measure/synthetic/, the inputs of the `tdxkit measure` tests.
// The expected measurements (expected.json) come from the independent Python model
// tests/measure/model.py, never from this generator or from tdxkit.
//
// LAYOUT SPECIFICATION (the tests may rely on every offset below; integers are little-endian, L is
// the file length, "PRNG" bytes come from SplitMix64 seeded with FNV-1a-64 of the file name, e.g.
// "firmware.fd", so each file has its own stream). GUIDs are stored in EFI byte order (first three
// groups byte-reversed). The formats are those dstack-mr reads (dstack-mr/src/tdvf.rs, kernel.rs),
// from edk2's OVMF (ResetVectorVtf0.asm, IntelTdxMetadata.asm) and the Linux boot protocol.
//
// firmware.fd, L = 0x40000 (256 KiB), TDVF-shaped like dstack's OVMF:
//   0x00000..0x1FFFF  CFV area: PRNG
//   0x20000..0x3FFFF  BFV area: PRNG, except for the structures below
//   0x3F000  TDX metadata GUID e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae (16 bytes)
//   0x3F010  TDVF descriptor: "TDVF", u32 length 0xD0, u32 version 1, u32 sections 6;
//            section i (32 bytes) at 0x3F020 + 32*i, in this file order:
//              i  data_offset  raw_size  memory_address  memory_size  type        attributes
//              0  0x20000      0x20000   0xFFFE0000      0x20000      0 BFV       1 MR_EXTEND
//              1  0x00000      0x20000   0xFFFC0000      0x20000      1 CFV       0
//              2  0            0         0x800000        0x6000       3 TEMP_MEM  0
//              3  0            0         0x809000        0x2000       2 TD_HOB    0
//              4  0            0         0x80B000        0x2000       3 TEMP_MEM  0
//              5  0            0         0x810000        0x10000      3 TEMP_MEM  2 PAGE_AUG
//            The descriptor ends at 0x3F0E0; PRNG follows up to the GUIDed table.
//   0x3FFA2  OVMF GUIDed table, 62 bytes; entries are "data ‖ u16 entry_len ‖ GUID", entry_len =
//            len(data) + 18, read backwards from the footer:
//            0x3FFA2 u32 0xFF0 (metadata offset: L - 0xFF0 = 0x3F010), 0x3FFA6 u16 22,
//            0x3FFA8 GUID e47a6535-984a-4798-865e-4685a7bf8ec2 (TDX metadata offset)
//            0x3FFB8 u32 0xFFFFF000, 0x3FFBC u16 22, 0x3FFBE GUID 00f771de-1a7e-4fcb-890e-68c77e2fb44e
//            (SEV-ES reset block: an unrelated entry the walk must skip)
//            0x3FFCE u16 62 (the whole table, footer included), 0x3FFD0 footer GUID
//            96b582de-1fb2-45f7-baea-a366c55a082d
//   0x3FFE0  reset vector area, 32 bytes: 0x90 0xCC repeated
//
// bzImage, L = 0x18005 (98,309; L % 8 = 5), a bzImage-shaped PE32+:
//   0x000  "MZ"; 0x03C u32 e_lfanew = 0x40; the other DOS-header bytes are PRNG
//   0x040  "PE\0\0"; COFF header at 0x044: machine 0x8664, 4 sections, SizeOfOptionalHeader 0xF0
//          (u16 at 0x054), characteristics 0x0206
//   0x058  optional header, PE32+ (magic 0x20B): SizeOfHeaders 0x400 (u32 at 0x094), CheckSum
//          0x0003C0DE (u32 at 0x098), NumberOfRvaAndSizes 16 (0x0C4), data directories at 0x0C8;
//          security directory (entry 4) at 0x0E8 = {u32 0x17EFD, u32 0x108}, the others zero.
//          COFF header, optional header and section table are zero where not stated.
//   0x148  section table, 4 x 40 bytes (ends 0x1E8), deliberately not in file order:
//            name    VirtualAddress  VirtualSize  PointerToRawData  SizeOfRawData
//            .setup  0x1000          0x1C00       0x400             0x1C00
//            .data   0x13000         0x4000       0x12000           0x4000
//            .text   0x3000          0x10000      0x2000            0x10000
//            .bss    0x17000         0x8000       0                 0
//   0x1F1  Linux setup header: setup_sects 15 ((15 + 1) * 512 = 0x2000 = .text), boot flag 0xAA55
//          at 0x1FE, "HdrS" at 0x202, protocol 0x020F at 0x206, type_of_loader 0 (0x210), loadflags
//          0x01 LOADED_HIGH (0x211), ramdisk_image/size 0 (0x218/0x21C), heap_end_ptr 0 (0x224),
//          ext_loader_ver/type 0 (0x226/0x227), cmd_line_ptr 0 (0x228), initrd_addr_max 0x7FFFFFFF
//          (0x22C), xloadflags 0x7F incl. XLF_CAN_BE_LOADED_ABOVE_4G (0x236), cmdline_size 0x7FF
//          (0x238); every other header byte up to 0x400 is PRNG
//   0x400..0x15FFF  section raw data (PRNG): .setup, .text, .data back to back
//   0x16000..0x17EFC  trailing data (PRNG, 0x1EFD bytes): hashed by Authenticode because a
//          certificate table exists
//   0x17EFD..0x18004  certificate table, 0x108 bytes: WIN_CERTIFICATE {u32 0x108, u16 0x0200,
//          u16 0x0002} then PRNG
//
// bzImage-nocert, L = 0x17EFD (98,045; L % 8 = 5): the first 0x17EFD bytes of bzImage with the
//   security directory zeroed, so the 0x1EFD trailing bytes from 0x16000 are not hashed (dstack).
//
// initrd: 12,345 PRNG bytes.  acpi/table-loader: 4096 PRNG bytes.  acpi/rsdp: "RSD PTR " then 12
// PRNG bytes.  acpi/tables: "DSDT" then 7996 PRNG bytes (only hashed: no ACPI structure inside).
// metadata.json: dstack's image metadata (bios, kernel, initrd, cmdline, version 0.6.0).
// sha256sum.txt: "<sha256 hex>  <name>\n" for firmware.fd, bzImage, initrd, metadata.json.

#include "synthetic_image.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::testgen {
namespace {

using testing::NamedFile;

// SplitMix64 (Steele, Lea and Flood, 2014): tiny and well known, so anyone can re-derive the bytes.
// Seeding with a hash of the file name gives every file its own stream: changing one file's size
// never shifts another file's bytes.
class Prng {
public:
    explicit Prng(std::string_view label) {
        for (const char c : label) {  // FNV-1a, 64-bit
            state_ ^= static_cast<std::uint8_t>(c);
            state_ *= 0x100000001b3ULL;
        }
    }

    std::uint64_t next() {
        state_ += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = state_;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    // Each 64-bit output gives 8 bytes, least significant first.
    Bytes bytes(std::size_t count) {
        Bytes out(count);
        std::uint64_t word = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (i % 8 == 0) word = next();
            out[i] = static_cast<std::uint8_t>(word >> (8 * (i % 8)));
        }
        return out;
    }

private:
    std::uint64_t state_ = 0xcbf29ce484222325ULL;  // the FNV-1a offset basis
};

// The bytes [offset, offset + size) of image. A layout constant that does not fit is a bug here.
std::span<std::uint8_t> field(Bytes& image, std::size_t offset, std::size_t size) {
    if (offset > image.size() || size > image.size() - offset) {
        throw Error(Errc::internal, fmt::format("synthetic image: field {:#x}+{:#x} is outside the {:#x}-byte file",
                                                offset, size, image.size()));
    }
    return std::span(image).subspan(offset, size);
}

void put_le(Bytes& image, std::size_t offset, std::uint64_t value, std::size_t width) {
    const auto out = field(image, offset, width);
    for (std::size_t i = 0; i < width; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}
void put_u8(Bytes& image, std::size_t offset, std::uint8_t value) { put_le(image, offset, value, 1); }
void put_u16(Bytes& image, std::size_t offset, std::uint16_t value) { put_le(image, offset, value, 2); }
void put_u32(Bytes& image, std::size_t offset, std::uint32_t value) { put_le(image, offset, value, 4); }
void put_u64(Bytes& image, std::size_t offset, std::uint64_t value) { put_le(image, offset, value, 8); }

void put_bytes(Bytes& image, std::size_t offset, ByteSpan bytes) {
    std::ranges::copy(bytes, field(image, offset, bytes.size()).begin());
}
void put_text(Bytes& image, std::size_t offset, std::string_view text) { put_bytes(image, offset, as_bytes(text)); }

Bytes le32(std::uint32_t value) {
    Bytes out(4);
    put_u32(out, 0, value);
    return out;
}

// EFI_GUID byte order: the first three groups are little-endian integers, the last two are stored
// as written.
Octets<16> efi_guid(std::string_view text) {
    std::string digits;
    for (const char c : text) {
        if (c != '-') digits += c;
    }
    const Bytes text_order = from_hex(digits, "GUID");
    if (text.size() != 36 || text_order.size() != 16) {
        throw Error(Errc::internal, fmt::format("synthetic image: bad GUID {}", text));
    }
    Octets<16> guid{};
    std::ranges::copy(text_order, guid.begin());
    std::reverse(guid.begin(), guid.begin() + 4);
    std::reverse(guid.begin() + 4, guid.begin() + 6);
    std::reverse(guid.begin() + 6, guid.begin() + 8);
    return guid;
}

// ---- firmware.fd -------------------------------------------------------------------------------

constexpr std::size_t firmware_size = 0x40000;
// AP entry, VTF signature and reset vector at the very end of OVMF: readers skip them.
constexpr std::size_t reset_vector_size = 32;
constexpr std::size_t guided_table_end = firmware_size - reset_vector_size;  // end of the footer GUID
constexpr std::size_t guided_table_start = 0x3FFA2;                          // as documented above; checked when built
constexpr std::size_t tdx_metadata_guid_offset = 0x3F000;
// edk2's metadata offset points just past the TDX metadata GUID, at the descriptor.
constexpr std::size_t tdvf_descriptor_offset = tdx_metadata_guid_offset + 16;

constexpr std::string_view ovmf_table_footer_guid = "96b582de-1fb2-45f7-baea-a366c55a082d";
constexpr std::string_view tdx_metadata_offset_guid = "e47a6535-984a-4798-865e-4685a7bf8ec2";
constexpr std::string_view sev_es_reset_block_guid = "00f771de-1a7e-4fcb-890e-68c77e2fb44e";
constexpr std::string_view tdx_metadata_guid = "e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae";

// Section types and attribute bits of edk2 OvmfPkg/ResetVector/X64/IntelTdxMetadata.asm.
enum TdvfSectionType : std::uint32_t { bfv = 0, cfv = 1, td_hob = 2, temp_mem = 3 };
constexpr std::uint32_t mr_extend = 0x1;
constexpr std::uint32_t page_aug = 0x2;

struct TdvfSection {
    std::uint32_t data_offset;
    std::uint32_t raw_data_size;
    std::uint64_t memory_address;
    std::uint64_t memory_data_size;
    std::uint32_t type;
    std::uint32_t attributes;
};

constexpr std::uint64_t four_gib = 0x100000000;
// The sections of dstack's OVMF (measure-facts §1.3), with firmware volumes scaled down to this
// 256 KiB image: the BFV is the top of the image, so it also holds the descriptor and the table.
constexpr std::array<TdvfSection, 6> tdvf_sections{{
    {0x20000, 0x20000, four_gib - 0x20000, 0x20000, bfv, mr_extend},
    {0x00000, 0x20000, four_gib - 0x40000, 0x20000, cfv, 0},
    {0, 0, 0x800000, 0x6000, temp_mem, 0},
    {0, 0, 0x809000, 0x2000, td_hob, 0},
    {0, 0, 0x80B000, 0x2000, temp_mem, 0},
    {0, 0, 0x810000, 0x10000, temp_mem, page_aug},
}};
constexpr std::size_t tdvf_descriptor_size = 16 + 32 * tdvf_sections.size();
static_assert(tdvf_descriptor_offset + tdvf_descriptor_size <= guided_table_start);

void write_tdvf_descriptor(Bytes& image) {
    put_bytes(image, tdx_metadata_guid_offset, efi_guid(tdx_metadata_guid));
    put_text(image, tdvf_descriptor_offset, "TDVF");
    put_u32(image, tdvf_descriptor_offset + 4, static_cast<std::uint32_t>(tdvf_descriptor_size));
    put_u32(image, tdvf_descriptor_offset + 8, 1);  // version
    put_u32(image, tdvf_descriptor_offset + 12, static_cast<std::uint32_t>(tdvf_sections.size()));
    for (std::size_t i = 0; i < tdvf_sections.size(); ++i) {
        const auto& section = tdvf_sections[i];
        const std::size_t at = tdvf_descriptor_offset + 16 + 32 * i;
        put_u32(image, at, section.data_offset);
        put_u32(image, at + 4, section.raw_data_size);
        put_u64(image, at + 8, section.memory_address);
        put_u64(image, at + 16, section.memory_data_size);
        put_u32(image, at + 24, section.type);
        put_u32(image, at + 28, section.attributes);
    }
}

struct GuidedTableEntry {
    std::string_view guid;
    Bytes data;
};

// The OVMF GUIDed table, written backwards from its footer (the direction readers walk it). The
// entries are given nearest the footer first; the unrelated one comes first so that a reader must
// skip an entry to find the metadata offset.
void write_guided_table(Bytes& image) {
    const GuidedTableEntry entries[] = {
        {sev_es_reset_block_guid, le32(0xFFFFF000)},
        {tdx_metadata_offset_guid, le32(static_cast<std::uint32_t>(firmware_size - tdvf_descriptor_offset))},
    };
    std::size_t cursor = guided_table_end - 16;
    put_bytes(image, cursor, efi_guid(ovmf_table_footer_guid));
    cursor -= 2;
    const std::size_t table_length_offset = cursor;
    for (const auto& entry : entries) {
        cursor -= 16;
        put_bytes(image, cursor, efi_guid(entry.guid));
        cursor -= 2;
        put_u16(image, cursor, static_cast<std::uint16_t>(entry.data.size() + 18));
        cursor -= entry.data.size();
        put_bytes(image, cursor, entry.data);
    }
    if (cursor != guided_table_start) {
        throw Error(Errc::internal, fmt::format("synthetic image: the GUIDed table starts at {:#x}, not at the "
                                                "documented {:#x}",
                                                cursor, guided_table_start));
    }
    // edk2 counts the footer's own length and GUID in the table length.
    put_u16(image, table_length_offset, static_cast<std::uint16_t>(guided_table_end - cursor));
}

Bytes make_firmware() {
    Bytes image = Prng("firmware.fd").bytes(firmware_size);
    write_tdvf_descriptor(image);
    write_guided_table(image);
    for (std::size_t i = 0; i < reset_vector_size; ++i) {
        put_u8(image, guided_table_end + i, i % 2 == 0 ? 0x90 : 0xCC);
    }
    return image;
}

// ---- bzImage, bzImage-nocert ---------------------------------------------------------------------

// Not a multiple of 8, so that the Authenticode zero padding is exercised (with and without the
// certificate table).
constexpr std::size_t kernel_size = 0x18005;
constexpr std::size_t certificate_table_size = 0x108;
constexpr std::size_t certificate_table_offset = kernel_size - certificate_table_size;  // 0x17EFD

// Early, as in current bzImages: the whole PE header and section table fit before the setup
// header at 0x1F1.
constexpr std::size_t pe_header_offset = 0x40;
constexpr std::size_t coff_header_offset = pe_header_offset + 4;
constexpr std::size_t optional_header_offset = coff_header_offset + 20;
constexpr std::size_t optional_header_size = 0xF0;  // PE32+ with 16 data directories
constexpr std::size_t data_directories_offset = optional_header_offset + 112;
constexpr std::size_t security_directory_offset = data_directories_offset + 4 * 8;
constexpr std::size_t section_table_offset = optional_header_offset + optional_header_size;
constexpr std::size_t size_of_headers = 0x400;

struct PeSection {
    std::string_view name;
    std::uint32_t virtual_size;
    std::uint32_t virtual_address;
    std::uint32_t raw_data_size;
    std::uint32_t raw_data_offset;
    std::uint32_t characteristics;
};

constexpr std::uint32_t code_characteristics = 0x60000020;  // code, execute, read
constexpr std::uint32_t data_characteristics = 0xC0000040;  // initialized data, read, write
constexpr std::uint32_t bss_characteristics = 0xC0000080;   // uninitialized data, read, write
constexpr PeSection setup_section{".setup", 0x1C00, 0x1000, 0x1C00, 0x400, code_characteristics};
constexpr PeSection text_section{".text", 0x10000, 0x3000, 0x10000, 0x2000, code_characteristics};
constexpr PeSection data_section{".data", 0x4000, 0x13000, 0x4000, 0x12000, data_characteristics};
// No file data (SizeOfRawData 0): Authenticode must leave it out.
constexpr PeSection bss_section{".bss", 0x8000, 0x17000, 0, 0, bss_characteristics};
// .data before .text: Authenticode must sort by PointerToRawData.
constexpr std::array<PeSection, 4> pe_sections_in_table_order{setup_section, data_section, text_section, bss_section};
constexpr std::size_t sections_end = data_section.raw_data_offset + data_section.raw_data_size;  // 0x16000

constexpr std::size_t setup_header_offset = 0x1F1;
constexpr std::uint8_t setup_sects = 15;  // (15 + 1) * 512 = 0x2000: the protected-mode kernel is .text

static_assert(section_table_offset + 40 * pe_sections_in_table_order.size() <= setup_header_offset);
static_assert(setup_section.raw_data_offset == size_of_headers);
static_assert(text_section.raw_data_offset == (setup_sects + 1) * 512);
static_assert(sections_end < certificate_table_offset, "trailing data must sit between the sections and the table");
static_assert(kernel_size % 8 != 0 && certificate_table_offset % 8 != 0);

// The Linux boot protocol fields that QEMU (and dstack-mr) read or patch; the rest stays PRNG.
void write_setup_header(Bytes& image) {
    put_text(image, 0, "MZ");
    put_u32(image, 0x3C, static_cast<std::uint32_t>(pe_header_offset));  // e_lfanew
    put_u8(image, setup_header_offset, setup_sects);
    put_u16(image, 0x1FE, 0xAA55);  // boot_flag
    put_text(image, 0x202, "HdrS");
    put_u16(image, 0x206, 0x020F);  // boot protocol 2.15
    put_u8(image, 0x210, 0);        // type_of_loader: QEMU patches it to 0xB0
    put_u8(image, 0x211, 0x01);     // loadflags LOADED_HIGH: QEMU adds CAN_USE_HEAP
    put_u32(image, 0x218, 0);       // ramdisk_image, patched
    put_u32(image, 0x21C, 0);       // ramdisk_size, patched
    put_u16(image, 0x224, 0);       // heap_end_ptr, patched
    // ext_loader_ver and ext_loader_type: dstack-mr patches heap_end_ptr as a u32 and so zeroes them,
    // QEMU writes a u16; zero keeps both patched images equal.
    put_u8(image, 0x226, 0);
    put_u8(image, 0x227, 0);
    put_u32(image, 0x228, 0);           // cmd_line_ptr, patched
    put_u32(image, 0x22C, 0x7FFFFFFF);  // initrd_addr_max
    put_u16(image, 0x236, 0x7F);        // xloadflags, with XLF_CAN_BE_LOADED_ABOVE_4G (0x40)
    put_u32(image, 0x238, 0x7FF);       // cmdline_size
}

// A well-formed PE32+ header (zero where unused), so that PE tools also read the image.
void write_pe_headers(Bytes& image) {
    const std::size_t section_table_end = section_table_offset + 40 * pe_sections_in_table_order.size();
    std::ranges::fill(field(image, pe_header_offset, section_table_end - pe_header_offset), std::uint8_t{0});
    put_text(image, pe_header_offset, std::string_view("PE\0\0", 4));

    put_u16(image, coff_header_offset, 0x8664);  // x86-64
    put_u16(image, coff_header_offset + 2, static_cast<std::uint16_t>(pe_sections_in_table_order.size()));
    put_u16(image, coff_header_offset + 16, static_cast<std::uint16_t>(optional_header_size));
    put_u16(image, coff_header_offset + 18, 0x0206);  // executable, line numbers and debug info stripped

    const std::size_t opt = optional_header_offset;
    put_u16(image, opt, 0x20B);                                                         // PE32+
    put_u32(image, opt + 4, text_section.raw_data_size);                                // SizeOfCode
    put_u32(image, opt + 8, setup_section.raw_data_size + data_section.raw_data_size);  // SizeOfInitializedData
    put_u32(image, opt + 12, bss_section.virtual_size);                                 // SizeOfUninitializedData
    put_u32(image, opt + 16, text_section.virtual_address);                             // AddressOfEntryPoint
    put_u32(image, opt + 20, text_section.virtual_address);                             // BaseOfCode
    put_u32(image, opt + 32, 0x1000);                                                   // SectionAlignment
    put_u32(image, opt + 36, 0x200);                                                    // FileAlignment
    put_u32(image, opt + 56, bss_section.virtual_address + bss_section.virtual_size);   // SizeOfImage
    put_u32(image, opt + 60, static_cast<std::uint32_t>(size_of_headers));
    put_u32(image, opt + 64, 0x0003C0DE);  // CheckSum: arbitrary, but non-zero so that skipping it matters
    put_u16(image, opt + 68, 10);          // Subsystem: EFI application
    put_u32(image, opt + 108, 16);         // NumberOfRvaAndSizes

    for (std::size_t i = 0; i < pe_sections_in_table_order.size(); ++i) {
        const auto& section = pe_sections_in_table_order[i];
        const std::size_t at = section_table_offset + 40 * i;
        put_text(image, at, section.name);  // NUL-padded to 8 bytes by the fill above
        put_u32(image, at + 8, section.virtual_size);
        put_u32(image, at + 12, section.virtual_address);
        put_u32(image, at + 16, section.raw_data_size);
        put_u32(image, at + 20, section.raw_data_offset);
        put_u32(image, at + 36, section.characteristics);
    }
}

void set_security_directory(Bytes& image, std::uint32_t offset, std::uint32_t size) {
    put_u32(image, security_directory_offset, offset);
    put_u32(image, security_directory_offset + 4, size);
}

// The kernel with its certificate table at the end of the file.
Bytes make_kernel() {
    Bytes image = Prng("bzImage").bytes(kernel_size);
    write_setup_header(image);
    write_pe_headers(image);
    set_security_directory(image, static_cast<std::uint32_t>(certificate_table_offset),
                           static_cast<std::uint32_t>(certificate_table_size));
    // A WIN_CERTIFICATE header (revision 2.0, PKCS#7 SignedData); the "signature" after it is PRNG.
    put_u32(image, certificate_table_offset, static_cast<std::uint32_t>(certificate_table_size));
    put_u16(image, certificate_table_offset + 4, 0x0200);
    put_u16(image, certificate_table_offset + 6, 0x0002);
    return image;
}

// The same kernel never signed: no table, security directory zero, the trailing data kept.
Bytes without_certificate_table(const Bytes& kernel) {
    Bytes image(kernel.begin(), kernel.begin() + static_cast<std::ptrdiff_t>(certificate_table_offset));
    set_security_directory(image, 0, 0);
    return image;
}

// ---- the other files ---------------------------------------------------------------------------

constexpr std::size_t initrd_size = 12345;
constexpr std::size_t acpi_table_loader_size = 4096;  // QEMU's BIOSLinker commands are padded to 4096
constexpr std::size_t acpi_rsdp_size = 20;            // an ACPI 1.0 RSDP
constexpr std::size_t acpi_tables_size = 8000;

// A PRNG file whose first bytes are a fixed signature.
Bytes signed_prng_file(std::string_view name, std::size_t size, std::string_view signature) {
    Bytes content = Prng(name).bytes(size);
    put_text(content, 0, signature);
    return content;
}

Bytes make_metadata_json() {
    // A fixed stand-in for the dm-verity root hash dstack puts on the command line.
    const std::string rootfs_hash = to_hex(sha256(as_bytes("tdxkit synthetic rootfs")));
    nlohmann::ordered_json metadata;
    metadata["bios"] = "firmware.fd";
    metadata["kernel"] = "bzImage";
    metadata["initrd"] = "initrd";
    metadata["cmdline"] =
        "console=ttyS0 init=/init panic=1 dstack.rootfs_hash=" + rootfs_hash + " dstack.rootfs_size=1234";
    metadata["version"] = "0.6.0";
    const std::string text = metadata.dump(2) + "\n";
    return Bytes(text.begin(), text.end());
}

std::string sha256sum_line(const NamedFile& file) {
    return fmt::format("{}  {}\n", to_hex(sha256(file.content)), file.name);
}

constexpr std::string_view readme =
    R"(# measure/synthetic/: a synthetic dstack-style image (TEST input of `tdxkit measure`)

Generated by `tdxkit-testgen` (tests/tools/synthetic_image.cpp) and regenerated with
`scripts/gen-testdata.sh`; the ctest `tools_testgen_reproducible` checks that the committed files
are exactly what the generator writes. Nothing here is a real firmware or kernel: the structures
`tdxkit measure` parses are laid out exactly, every other byte is pseudo-random (SplitMix64 seeded
with FNV-1a-64 of the file name). The byte layout (every offset) is specified at the top of
tests/tools/synthetic_image.cpp.

| File | What it is |
|---|---|
| `firmware.fd` | 256 KiB TDVF-shaped OVMF: CFV area 0x0-0x1FFFF, BFV area 0x20000-0x3FFFF holding the TDVF descriptor (0x3F010, 6 sections in dstack's order: BFV, CFV, TEMP_MEM, TD_HOB, TEMP_MEM, TEMP_MEM+PAGE_AUG) and the OVMF GUIDed table before the last 32 bytes (an SEV-ES entry nearest the footer, then the TDX metadata offset) |
| `bzImage` | 98,309-byte bzImage-shaped PE32+ kernel (boot protocol 2.15): 4 sections listed out of file order, one without file data, trailing data, then a 0x108-byte certificate table at the end |
| `bzImage-nocert` | The same kernel unsigned: the first 98,045 bytes, security directory zeroed, trailing data kept |
| `initrd` | 12,345 pseudo-random bytes |
| `metadata.json` | dstack image metadata: bios, kernel, initrd, cmdline (with a fixed `dstack.rootfs_hash`), version 0.6.0 |
| `acpi/table-loader`, `acpi/rsdp`, `acpi/tables` | Stand-ins for QEMU's fw_cfg files etc/table-loader (4096 B), etc/acpi/rsdp (20 B, starts `RSD PTR `) and etc/acpi/tables (8000 B, starts `DSDT`); pseudo-random, only hashed |
| `sha256sum.txt` | `sha256sum` lines of firmware.fd, bzImage, initrd and metadata.json; a vm_config's `os_image_hash` is the SHA-256 of this file |

`expected.json` (MRTD and RTMR0-2) is not made by the generator, which neither writes nor checks
it: it comes from the independent Python model `tests/measure/model.py`, never from tdxkit, so
that the tests compare two implementations. Regenerating these inputs invalidates it: rerun the
model.
)";

}  // namespace

std::vector<NamedFile> synthetic_image_files() {
    const Bytes kernel = make_kernel();
    const NamedFile firmware{"firmware.fd", make_firmware()};
    const NamedFile bz_image{"bzImage", kernel};
    const NamedFile initrd{"initrd", Prng("initrd").bytes(initrd_size)};
    const NamedFile metadata{"metadata.json", make_metadata_json()};

    std::string sha256sum;
    for (const auto* file : {&firmware, &bz_image, &initrd, &metadata}) sha256sum += sha256sum_line(*file);

    std::vector<NamedFile> files{
        firmware,
        bz_image,
        {"bzImage-nocert", without_certificate_table(kernel)},
        initrd,
        metadata,
        {"acpi/table-loader", Prng("acpi/table-loader").bytes(acpi_table_loader_size)},
        {"acpi/rsdp", signed_prng_file("acpi/rsdp", acpi_rsdp_size, "RSD PTR ")},
        {"acpi/tables", signed_prng_file("acpi/tables", acpi_tables_size, "DSDT")},
        {"sha256sum.txt", Bytes(sha256sum.begin(), sha256sum.end())},
        {"README.md", Bytes(readme.begin(), readme.end())},
    };
    for (auto& file : files) file.name = "measure/synthetic/" + file.name;
    return files;
}

}  // namespace tdxkit::testgen
