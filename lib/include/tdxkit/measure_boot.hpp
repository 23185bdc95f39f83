#pragma once

// Boot-chain measurements predicted before deployment: MRTD from the TDVF firmware, RTMR0 from the
// firmware's configuration (TD HOB, EFI variables, ACPI tables), RTMR1 from the kernel, RTMR2 from the
// command line and initrd, for a dstack CVM booted by QEMU with OVMF. The algorithms follow dstack's
// dstack-mr byte for byte (lib/docs/measure.md cites each step); where dstack-mr would panic, loop or
// wrap, these functions throw Error(malformed) naming the structure and offset instead.
//
// Nothing here verifies anything: the results are what an honest TD with these inputs would report.
// `diagnose_boot` compares them with a quote; `verify` with a policy pinning them is what accepts one.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit {

// --- TDVF firmware and MRTD -----------------------------------------------------------------------

enum class TdvfSectionType : std::uint32_t { bfv = 0, cfv = 1, td_hob = 2, temp_mem = 3 };
inline constexpr std::uint32_t kTdvfAttributeMrExtend = 0x1;
inline constexpr std::uint32_t kTdvfAttributePageAug = 0x2;
// OVMF images are a few MiB; 64 MiB leaves room for any TDVF build.
inline constexpr std::size_t kMaxFirmwareSize = 64 * 1024 * 1024;

struct TdvfSection {
    std::uint32_t data_offset = 0;  // file offset of the section's bytes
    std::uint32_t raw_data_size = 0;
    std::uint64_t memory_address = 0;  // guest-physical, page aligned
    std::uint64_t memory_data_size = 0;
    std::uint32_t type = 0;  // TdvfSectionType, or a value tdxkit does not name
    std::uint32_t attributes = 0;
};

struct TdvfMetadata {
    std::size_t descriptor_offset = 0;  // file offset of the "TDVF" descriptor
    std::vector<TdvfSection> sections;  // in file order (the order MRTD measures them)
};

// "BFV", "CFV", "TD_HOB", "TEMP_MEM", or "type N". Never throws.
[[nodiscard]] TDXKIT_EXPORT std::string tdvf_section_type_name(std::uint32_t type);

// Finds the TDX metadata through the OVMF GUIDed table footer and checks every section: page-aligned
// address and size, memory size >= raw size, no address overflow, file data inside the file for
// sections MRTD reads, no two sections overlapping in memory. Throws Error(malformed) naming the
// structure (footer, table entry, descriptor, section N) and the offset; Error(unsupported) for a
// TDVF descriptor version other than 1.
[[nodiscard]] TDXKIT_EXPORT TdvfMetadata parse_tdvf(ByteSpan firmware);

// How QEMU hands the firmware pages to the TDX module: per section all MEM.PAGE.ADDs then all
// MR.EXTENDs (two_pass, QEMU 8.x TDX patches), or page by page (single_pass, QEMU >= 9).
enum class PageOrder { single_pass, two_pass };
[[nodiscard]] TDXKIT_EXPORT const char* page_order_name(PageOrder order) noexcept;

// dstack-mr's rule: QEMU 8.x is two-pass, 9 and later single-pass. `qemu_version` must be exactly
// "MAJOR.MINOR.PATCH" and at least 8.0.0 (Error(invalid_argument) otherwise); nullopt means dstack's
// default, 9.1.0.
[[nodiscard]] TDXKIT_EXPORT PageOrder page_order_for_qemu(const std::optional<std::string>& qemu_version);

// One SHA-384 over the TDX module's MEM.PAGE.ADD and MR.EXTEND records. `metadata` must come from
// parse_tdvf of the same bytes (Error(invalid_argument) if a section's data is outside `firmware`).
[[nodiscard]] TDXKIT_EXPORT Measurement compute_mrtd(ByteSpan firmware, const TdvfMetadata& metadata, PageOrder order);

// --- The TD HOB (RTMR0's first event) ---------------------------------------------------------------

struct MemoryRange {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    friend bool operator==(const MemoryRange&, const MemoryRange&) = default;
};

// What the TD HOB depends on besides the memory size: where the HOB lives and which ranges the
// firmware accepts before it runs (the TD_HOB and TEMP_MEM sections).
struct TdHobLayout {
    std::uint64_t hob_base = 0;
    std::vector<MemoryRange> accepted;  // sorted by start, non-overlapping
    friend bool operator==(const TdHobLayout&, const TdHobLayout&) = default;
};

// From the firmware's sections. Error(malformed) if there is no TD_HOB section, more than one, or
// no accepted range.
[[nodiscard]] TDXKIT_EXPORT TdHobLayout td_hob_layout(const TdvfMetadata& metadata);
// dstack's witness v1 (LEB128 page numbers), as carried in measurement.tdx.cbor; the two are
// inverses. decode throws Error(malformed) for a truncated or oversized varint, an overflowing
// address, overlapping ranges or trailing bytes.
[[nodiscard]] TDXKIT_EXPORT Bytes encode_td_hob_witness(const TdHobLayout& layout);
[[nodiscard]] TDXKIT_EXPORT TdHobLayout decode_td_hob_witness(ByteSpan witness);

// The PHIT and resource-descriptor HOBs OVMF measures for a TD of `memory_size` bytes (q35: memory
// from 0xB0000000 up is split at 2 GiB and continues at 4 GiB). Error(invalid_argument) when
// memory_size is not a multiple of 4 KiB or does not cover every accepted range.
[[nodiscard]] TDXKIT_EXPORT Bytes build_td_hob(const TdHobLayout& layout, std::uint64_t memory_size);

// --- The kernel (RTMR1) and command line / initrd (RTMR2) ------------------------------------------

// The bzImage as OVMF measures it: QEMU's x86 Linux loader patches the setup header (loader type,
// heap end, command-line pointer, initrd address and size) for the memory size and initrd size.
// Error(malformed) for an image shorter than 4 KiB; Error(invalid_argument) for an initrd that does
// not fit below the address QEMU chooses, or one given to a kernel older than boot protocol 2.00.
[[nodiscard]] TDXKIT_EXPORT Bytes patch_kernel_setup_header(ByteSpan kernel, std::uint64_t initrd_size,
                                                            std::uint64_t memory_size);

// The PE image's Authenticode SHA-384 as dstack-mr computes it (which differs from the standard one:
// no trailing data without a certificate table, zero padding to 8 bytes). Error(malformed) naming the
// header or section whose offset or size lies outside the image.
[[nodiscard]] TDXKIT_EXPORT Measurement authenticode_sha384(ByteSpan pe_image);

// SHA-384 of UTF-16LE(cmdline + " initrd=initrd") and a UTF-16 NUL, OVMF's LoadOptions event.
// Error(invalid_argument) for a command line that is not valid UTF-8.
[[nodiscard]] TDXKIT_EXPORT Measurement cmdline_digest(std::string_view cmdline);

// --- Registers and their events -------------------------------------------------------------------

// The OVMF builds dstack-mr has known: pre202505 (dstack's OVMF, the only one dstack-mr supports
// since 4cc8516f, 2026-06) and stable202505 (edk2-stable202505, 17 RTMR0 events: fw_cfg BootMenu and
// bootorder, the variable-authority event and two boot options). parse refuses anything else with
// Error(invalid_argument), naming the known ones: another layout is never guessed (edk2-stable202408.01,
// which moved the separator from RTMR1 to RTMR0, included).
enum class OvmfVariant { pre202505, stable202505 };
[[nodiscard]] TDXKIT_EXPORT OvmfVariant parse_ovmf_variant(std::string_view name);
[[nodiscard]] TDXKIT_EXPORT const char* ovmf_variant_name(OvmfVariant variant) noexcept;

// What an event measures, and so which input explains a difference in it.
enum class BootEventKind {
    td_hob,           // memory size and firmware (the accepted ranges)
    firmware_config,  // CFV, Secure Boot variables, boot variables, separators, fixed EFI actions
    acpi_loader,      // VM shape: CPUs, memory, devices
    acpi_rsdp,
    acpi_tables,
    kernel,  // the kernel image (and the memory and initrd sizes QEMU patches into it)
    cmdline,
    initrd,
};
[[nodiscard]] TDXKIT_EXPORT const char* boot_event_kind_name(BootEventKind kind) noexcept;
// One line for an operator: which input most likely explains a difference in such an event.
[[nodiscard]] TDXKIT_EXPORT const char* boot_event_kind_cause(BootEventKind kind) noexcept;

struct BootEvent {
    std::uint32_t rtmr = 0;  // 0..2
    BootEventKind kind = BootEventKind::firmware_config;
    std::string description;  // "TD HOB", "EFI variable SecureBoot", "kernel (Authenticode)", ...
    Measurement digest{};
};

struct AcpiDigests {
    Measurement loader{};  // etc/table-loader
    Measurement rsdp{};    // etc/acpi/rsdp
    Measurement tables{};  // etc/acpi/tables
};

// The three "ACPI DATA" digests of RTMR0 in a TD's event log, by position among its RTMR0 events
// (from 0: 8-10 of 13 for pre202505, 10-12 of 17 for stable202505), or all three of an RTMR0 that
// has only those (dstack's lite attestation strips the other boot events). Positions, not names, pick
// them: a digest's position in RTMR0 is what a replay equal to the quote binds, while an event's type
// and name are labels nothing covers (a type other than EV_PLATFORM_CONFIG_FLAGS only makes this
// refuse). The caller binds the log first where it can (its RTMR0 replayed against its quote).
// Error(malformed) when the log's RTMR0 has neither form.
[[nodiscard]] TDXKIT_EXPORT AcpiDigests acpi_digests_from_event_log(const EventLog& log, OvmfVariant variant);

// The digests of the three fw_cfg blobs dumped from QEMU. Never throws but for Error(crypto).
[[nodiscard]] TDXKIT_EXPORT AcpiDigests acpi_digests_from_blobs(ByteSpan loader, ByteSpan rsdp, ByteSpan tables);

// Where the digests of each register come from.
struct BootDigests {
    OvmfVariant variant = OvmfVariant::pre202505;  // which RTMR0 layout the firmware measures
    Measurement mrtd{};
    Measurement td_hob{};
    std::optional<AcpiDigests> acpi;  // unset: RTMR0 cannot be predicted
    Measurement kernel_authenticode{};
    Measurement cmdline{};
    Measurement initrd{};
};

struct BootMeasurement {
    Measurement mrtd{};
    std::optional<Measurement> rtmr0;  // unset without ACPI digests
    Measurement rtmr1{};
    Measurement rtmr2{};
    std::vector<BootEvent> events;  // RTMR0 (without the ACPI events when unknown), then RTMR1, RTMR2
};

// Lays out each register's events for digests.variant and folds them (RTMR = SHA-384(RTMR || digest)).
[[nodiscard]] TDXKIT_EXPORT BootMeasurement assemble_boot_measurement(const BootDigests& digests);

// --- Inputs as dstack ships them ------------------------------------------------------------------

struct ImageFiles {
    Bytes firmware;
    Bytes kernel;
    Bytes initrd;
    std::string cmdline;  // as metadata.json has it, without " initrd=initrd"
};

struct VmShape {
    std::uint64_t memory_size = 0;  // bytes
    PageOrder page_order = PageOrder::single_pass;
    OvmfVariant variant = OvmfVariant::pre202505;
};

// The full computation from the image files, for shape.variant. Errors as the functions above.
[[nodiscard]] TDXKIT_EXPORT BootDigests boot_digests_from_image(const ImageFiles& image, const VmShape& shape,
                                                                const std::optional<AcpiDigests>& acpi);

// dstack image directory: metadata.json {"bios", "kernel", "initrd", "cmdline", "version"?,
// "ovmf_variant"?} names the files (plain names inside the directory). Error(io) for a file that
// cannot be read, Error(malformed) for metadata.json itself.
struct ImageDirectory {
    ImageFiles files;
    std::optional<std::string> version;
    std::optional<OvmfVariant> ovmf_variant;
    std::optional<Octets<32>> os_image_hash;  // sha256(sha256sum.txt) when the directory has one
};
[[nodiscard]] TDXKIT_EXPORT ImageDirectory read_image_directory(const std::string& directory);

// The vm_config dstack's VMM gives a TD (and GetQuote returns), the members measurement reads.
// Unknown members are ignored, as dstack ignores them; the members read are checked as they are read
// (a QEMU version or OVMF variant dstack-mr refuses, a memory size not a multiple of 4 KiB), so that a
// bad vm_config is malformed input, not a usage error.
struct VmConfig {
    std::optional<Octets<32>> os_image_hash;
    std::uint32_t cpu_count = 0;
    std::uint64_t memory_size = 0;
    std::optional<bool> qemu_single_pass_add_pages;  // see page_order()
    std::optional<std::string> qemu_version;
    std::optional<std::string> image;
    std::optional<OvmfVariant> ovmf_variant;
    std::string attestation_variant = "legacy";  // tdx_attestation_variant: "legacy" or "lite"
    std::optional<Bytes> checksum_file;          // tdx_measurement.checksum_file (sha256sum.txt)
    std::optional<Bytes> measurement_document;   // tdx_measurement.measurement (measurement.tdx.cbor)
    // The "event_log" next to "vm_config" in the wrapper (a GetQuote response), as JSON text for
    // parse_dstack_event_log; unset when the wrapper has none.
    std::optional<std::string> event_log;

    // dstack-mr's choice, quirk included: the flag named qemu_single_pass_add_pages, when present,
    // selects TWO-pass when true (dstack passes it as two_pass_add_pages); otherwise the QEMU version
    // decides. Error(invalid_argument) for a QEMU version dstack-mr refuses.
    [[nodiscard]] TDXKIT_EXPORT PageOrder page_order() const;
};

// The vm_config object, a JSON string holding it, or any object with a "vm_config" member (a GetQuote
// response, a verifier request) holding either. Strict JSON (duplicate keys refused); Error(malformed)
// naming the member for a wrong type, bad hex or base64, or a missing memory_size.
[[nodiscard]] TDXKIT_EXPORT VmConfig parse_vm_config(std::string_view json_text);

// measurement.tdx.cbor, version 3: the digests an image's lite attestation carries.
struct LiteMeasurementDocument {
    Measurement cmdline{};
    Measurement kernel_authenticode{};  // of the kernel as patched for 2 GiB / >= 0xB0000000 bytes
    Measurement initrd{};
    OvmfVariant variant = OvmfVariant::pre202505;
    Measurement mrtd_single_pass{};
    Measurement mrtd_two_pass{};
    TdHobLayout td_hob;  // the decoded witness
};
// Strict: definite-length maps with text keys, byte strings of exactly 48 bytes, version 3, no
// duplicate or missing keys, nesting limited; unknown keys are ignored as dstack ignores them.
// Error(malformed) naming the key; Error(unsupported) for another version.
[[nodiscard]] TDXKIT_EXPORT LiteMeasurementDocument parse_lite_measurement_document(ByteSpan cbor);

// Checks dstack's binding: sha256(checksum_file) == os_image_hash, and the file's line for
// measurement.tdx.cbor names sha256(document). Error(malformed) for a checksum file dstack would not
// read, and with both digests for a mismatch.
TDXKIT_EXPORT void verify_lite_measurement_binding(ByteSpan checksum_file, ByteSpan document,
                                                   const Octets<32>& os_image_hash);

// The lite computation from a vm_config carrying tdx_measurement; the document's OVMF variant decides
// the RTMR0 layout, as in dstack. Error(unsupported) without the
// document or for a memory size other than exactly 2 GiB or at least 0xB0000000 bytes (the only sizes
// its kernel digest holds for); Error(malformed) when the document is not bound to os_image_hash
// (verify_lite_measurement_binding) or names another OVMF variant than vm_config does. `page_order`
// picks which of the document's two MRTDs (unset: vm_config's order, VmConfig::page_order).
[[nodiscard]] TDXKIT_EXPORT BootDigests boot_digests_from_vm_config(const VmConfig& config,
                                                                    const std::optional<AcpiDigests>& acpi,
                                                                    std::optional<PageOrder> page_order = std::nullopt);

// --- Values derived from the registers (lib/docs/dstack.md) ---------------------------------------

// sha256(mrtd || rtmr0 || rtmr1 || rtmr2 || mr_key_provider); mr_key_provider is sha256 of the
// key-provider event's payload, or 32 zero bytes without one.
[[nodiscard]] TDXKIT_EXPORT Octets<32> mr_system(const Measurement& mrtd, const std::array<Measurement, 3>& rtmr,
                                                 const Octets<32>& mr_key_provider);
// sha256(mrtd || rtmr0..3), followed by mr_config_id || mr_owner || mr_owner_config only when one of
// those is non-zero.
[[nodiscard]] TDXKIT_EXPORT Octets<32> mr_aggregated(const TdReportBody& td);

// --- Diagnosing a running TD ----------------------------------------------------------------------

struct RegisterDiagnosis {
    std::string name;        // "MRTD", "RTMR0", ...
    bool predicted = false;  // false: not predicted (RTMR0 without ACPI digests)
    Measurement expected{};
    Measurement actual{};
    bool equal = false;
    // For a differing RTMR whose log events are known: the first differing event.
    std::optional<std::size_t> event_position;  // among the register's events, from 0
    std::optional<BootEvent> expected_event;
    std::optional<Measurement> actual_event_digest;  // unset: the log has fewer events
    std::string cause;                               // which input most likely explains the difference; "" when equal
};

struct BootDiagnosis {
    std::vector<RegisterDiagnosis> registers;  // MRTD, RTMR0, RTMR1, RTMR2
    // The log's replay differs from the quote in RTMR0-2: its events cannot be trusted to locate
    // a difference (they are still compared, and this is said).
    std::optional<std::string> log_problem;
    // Every register predicted and equal. A register not predicted (RTMR0 without ACPI digests) makes
    // this false: nothing confirms it.
    [[nodiscard]] TDXKIT_EXPORT bool equal() const noexcept;
    [[nodiscard]] TDXKIT_EXPORT bool complete() const noexcept;  // every register was predicted
};

// Compares the prediction with the TD's registers (constant time) and, for each differing RTMR,
// with the events of the log (nullptr: none). Never throws for the evidence.
[[nodiscard]] TDXKIT_EXPORT BootDiagnosis diagnose_boot(const BootMeasurement& predicted, const TdReportBody& td,
                                                        const EventLog* log);

}  // namespace tdxkit
