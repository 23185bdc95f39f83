// What OVMF extends into RTMR0-2 for each boot of a dstack CVM, in order (dstack-mr tdvf.rs
// rtmr0_log, kernel.rs rtmr1_log, tdx.rs), and the values dstack derives from the registers.

#include <fmt/format.h>

#include "eventlog/extend.hpp"
#include "measure/boot_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure_boot.hpp"

namespace tdxkit {
namespace {

using detail::efi_guid;

constexpr Octets<16> kEfiGlobalVariable = efi_guid("8be4df61-93ca-11d2-aa0d-00e098032b8c");
constexpr Octets<16> kEfiImageSecurityDatabase = efi_guid("d719b2cb-3d3a-4596-a3bc-dad00e67656f");
// The boot options OVMF publishes live in its firmware volume (edk2 MdeModulePkg file GUIDs).
constexpr Octets<16> kOvmfVolume = efi_guid("7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1");
constexpr Octets<16> kFrontPageFile = efi_guid("462caa21-7614-4503-836e-8ab6f4662331");
constexpr Octets<16> kBootManagerMenuFile = efi_guid("eec25bdc-67f2-4d95-b1d5-f81b2039d11d");
constexpr std::uint32_t kLoadOptionActiveApp = 0x101;  // LOAD_OPTION_ACTIVE | LOAD_OPTION_CATEGORY_APP
constexpr std::uint32_t kLoadOptionHiddenApp = 0x109;  // ... | LOAD_OPTION_HIDDEN

// dstack-mr's constant for the CFV (the variable store shipped in the image), tdvf.rs: the same for
// every dstack OVMF build, and what the TD's log shows.
constexpr std::string_view kCfvDigestHex =
    "344bc51c980ba621aaa00da3ed7436f7d6e549197dfe699515dfa2c6583d95e6412af21c097d473155875ffd561d6790";
// edk2-stable202505 measures EV_EFI_VARIABLE_AUTHORITY once during BDS even with Secure Boot off;
// its payload is internal to OVMF, so dstack-mr (before 4cc8516f) carried the digest of its build.
constexpr std::string_view kVariableAuthorityDigestHex =
    "fb66919801f1dfc9c4c273b6a739380790cb0fd3cb706a42f6ac050510ebc8618e7fba53a1564522f5c6f0dc9e1f41a6";

// Where each layout puts etc/table-loader among its RTMR0 events (rsdp and tables follow), and how
// many RTMR0 events it has.
struct Rtmr0Layout {
    std::size_t acpi_loader_position;
    std::size_t events;
};
constexpr Rtmr0Layout rtmr0_layout(OvmfVariant variant) {
    return variant == OvmfVariant::stable202505 ? Rtmr0Layout{10, 17} : Rtmr0Layout{8, 13};
}
constexpr std::uint32_t kEvPlatformConfigFlags = 0xA;

Measurement measurement_from_hex(std::string_view hex) {
    const auto bytes = from_hex(hex);
    Measurement m{};
    std::copy(bytes.begin(), bytes.end(), m.begin());
    return m;
}

// UEFI_VARIABLE_DATA of an absent Secure Boot variable (EV_EFI_VARIABLE_DRIVER_CONFIG): the vendor
// GUID, the name's length, a data length of 0, the UTF-16 name. dstack's OVMF boots with Secure
// Boot off, so all five are measured empty.
Measurement empty_variable_digest(const Octets<16>& vendor, std::string_view name) {
    Bytes data(vendor.begin(), vendor.end());
    const std::uint64_t name_length = name.size();
    for (std::size_t i = 0; i < 8; ++i) data.push_back(static_cast<std::uint8_t>(name_length >> (8U * i)));
    data.insert(data.end(), 8, 0);
    const auto utf16 = detail::utf16le(name, "EFI variable name");
    data.insert(data.end(), utf16.begin(), utf16.end());
    return sha384(data);
}

// A Boot#### variable's data (EFI_LOAD_OPTION): attributes, the device path's length, the NUL-ended
// UTF-16 description, and the path to a file of OVMF's firmware volume. EV_EFI_VARIABLE_BOOT's
// digest covers the variable data only.
Measurement load_option_digest(std::uint32_t attributes, std::string_view description, const Octets<16>& file) {
    Bytes option;
    for (std::size_t i = 0; i < 4; ++i) option.push_back(static_cast<std::uint8_t>(attributes >> (8U * i)));
    option.insert(option.end(), {0x2C, 0x00});  // two 20-byte nodes and the 4-byte end node
    const auto text = detail::utf16le(description, "load option description");
    option.insert(option.end(), text.begin(), text.end());
    option.insert(option.end(), {0x00, 0x00});
    option.insert(option.end(), {0x04, 0x07, 0x14, 0x00});  // MEDIA_DEVICE_PATH / PIWG firmware volume
    option.insert(option.end(), kOvmfVolume.begin(), kOvmfVolume.end());
    option.insert(option.end(), {0x04, 0x06, 0x14, 0x00});  // MEDIA_DEVICE_PATH / PIWG firmware file
    option.insert(option.end(), file.begin(), file.end());
    option.insert(option.end(), {0x7F, 0xFF, 0x04, 0x00});  // end of the device path
    return sha384(option);
}

Measurement separator_digest() { return sha384(Bytes{0, 0, 0, 0}); }

Measurement fold(const std::vector<BootEvent>& events, std::uint32_t rtmr) {
    Measurement reg{};
    for (const auto& e : events) {
        if (e.rtmr == rtmr) detail::extend_rtmr(reg, e.digest);
    }
    return reg;
}

}  // namespace

OvmfVariant parse_ovmf_variant(std::string_view name) {
    if (name == "pre202505") return OvmfVariant::pre202505;
    if (name == "stable202505") return OvmfVariant::stable202505;
    if (name.find("202408") != std::string_view::npos) {
        throw Error(Errc::invalid_argument,
                    fmt::format("OVMF variant \"{}\": edk2-stable202408.01 moved the separator from RTMR1 to RTMR0, a "
                                "layout dstack-mr never predicted; tdxkit knows \"pre202505\" and \"stable202505\"",
                                name));
    }
    throw Error(Errc::invalid_argument,
                fmt::format("unknown OVMF variant \"{}\"; tdxkit knows \"pre202505\" (dstack's OVMF) and "
                            "\"stable202505\" (edk2-stable202505) and never guesses another layout",
                            name));
}

const char* ovmf_variant_name(OvmfVariant variant) noexcept {
    return variant == OvmfVariant::stable202505 ? "stable202505" : "pre202505";
}

const char* boot_event_kind_name(BootEventKind kind) noexcept {
    switch (kind) {
    case BootEventKind::td_hob: return "td_hob";
    case BootEventKind::firmware_config: return "firmware_config";
    case BootEventKind::acpi_loader: return "acpi_loader";
    case BootEventKind::acpi_rsdp: return "acpi_rsdp";
    case BootEventKind::acpi_tables: return "acpi_tables";
    case BootEventKind::kernel: return "kernel";
    case BootEventKind::cmdline: return "cmdline";
    case BootEventKind::initrd: return "initrd";
    }
    return "unknown";
}

const char* boot_event_kind_cause(BootEventKind kind) noexcept {
    switch (kind) {
    case BootEventKind::td_hob:
        return "the memory size (--memory, or vm_config memory_size), or the firmware's TD_HOB/TEMP_MEM sections";
    case BootEventKind::firmware_config: return "the firmware build (OVMF variant, Secure Boot or boot variables)";
    case BootEventKind::acpi_loader:
    case BootEventKind::acpi_rsdp:
    case BootEventKind::acpi_tables:
        return "the VM shape QEMU builds ACPI tables from (CPUs, memory, devices, QEMU version)";
    case BootEventKind::kernel:
        return "the kernel image, or the memory or initrd size QEMU patches into its setup header";
    case BootEventKind::cmdline: return "the kernel command line";
    case BootEventKind::initrd: return "the initrd";
    }
    return "unknown";
}

AcpiDigests acpi_digests_from_event_log(const EventLog& log, OvmfVariant variant) {
    std::vector<const Event*> rtmr0;
    for (const auto& e : log.events) {
        if (e.imr == 0) rtmr0.push_back(&e);
    }
    auto layout = rtmr0_layout(variant);
    if (rtmr0.size() == 3) layout = {0, 3};  // a lite attestation's log keeps only the ACPI events
    if (rtmr0.size() != layout.events) {
        throw Error(Errc::malformed,
                    fmt::format("event log: RTMR0 has {} events, the {} layout has {} (or 3, the ACPI events alone); "
                                "the ACPI digests cannot be located (give the tables with --acpi-tables, --acpi-rsdp "
                                "and --acpi-loader)",
                                rtmr0.size(), ovmf_variant_name(variant), layout.events));
    }
    // Event types are unbound labels: one that contradicts the layout can only make this refuse.
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& e = *rtmr0[layout.acpi_loader_position + i];
        if (e.event_type != kEvPlatformConfigFlags) {
            throw Error(Errc::malformed,
                        fmt::format("event log: RTMR0 event {} (log index {}) has type {:#x}, not an ACPI DATA event "
                                    "({:#x}); the log does not have the {} layout",
                                    layout.acpi_loader_position + i, e.index, e.event_type, kEvPlatformConfigFlags,
                                    ovmf_variant_name(variant)));
        }
    }
    return {rtmr0[layout.acpi_loader_position]->digest, rtmr0[layout.acpi_loader_position + 1]->digest,
            rtmr0[layout.acpi_loader_position + 2]->digest};
}

AcpiDigests acpi_digests_from_blobs(ByteSpan loader, ByteSpan rsdp, ByteSpan tables) {
    return {sha384(loader), sha384(rsdp), sha384(tables)};
}

BootMeasurement assemble_boot_measurement(const BootDigests& d) {
    BootMeasurement m;
    m.mrtd = d.mrtd;
    auto& ev = m.events;
    const auto add = [&](std::uint32_t rtmr, BootEventKind kind, std::string description, const Measurement& digest) {
        ev.push_back({rtmr, kind, std::move(description), digest});
    };
    using K = BootEventKind;
    const bool stable = d.variant == OvmfVariant::stable202505;
    add(0, K::td_hob, "TD HOB (EV_EFI_HANDOFF_TABLES2)", d.td_hob);
    add(0, K::firmware_config, "CFV: OVMF variable store (EV_EFI_PLATFORM_FIRMWARE_BLOB2)",
        measurement_from_hex(kCfvDigestHex));
    if (stable) {
        // QEMU's fw_cfg files: BootMenu (a u16, 0 without -boot menu=on) and bootorder (the one option
        // ROM QEMU adds for -kernel on q35, whose fw_cfg has DMA).
        add(0, K::firmware_config, "fw_cfg BootMenu (0)", sha384(Bytes{0, 0}));
        add(0, K::firmware_config, "fw_cfg bootorder (/rom@genroms/linuxboot_dma.bin)",
            sha384(as_bytes(std::string_view("/rom@genroms/linuxboot_dma.bin\0", 31))));
    }
    for (const auto* name : {"SecureBoot", "PK", "KEK"}) {
        add(0, K::firmware_config, fmt::format("EFI variable {} (empty)", name),
            empty_variable_digest(kEfiGlobalVariable, name));
    }
    for (const auto* name : {"db", "dbx"}) {
        add(0, K::firmware_config, fmt::format("EFI variable {} (empty)", name),
            empty_variable_digest(kEfiImageSecurityDatabase, name));
    }
    add(0, K::firmware_config, "separator", separator_digest());
    if (d.acpi) {
        add(0, K::acpi_loader, "ACPI etc/table-loader", d.acpi->loader);
        add(0, K::acpi_rsdp, "ACPI etc/acpi/rsdp", d.acpi->rsdp);
        add(0, K::acpi_tables, "ACPI etc/acpi/tables", d.acpi->tables);
    }
    if (stable) {
        add(0, K::firmware_config, "EFI variable authority (EV_EFI_VARIABLE_AUTHORITY)",
            measurement_from_hex(kVariableAuthorityDigestHex));
        add(0, K::firmware_config, "EFI variable BootOrder (0000, 0001)", sha384(Bytes{0, 0, 1, 0}));
        add(0, K::firmware_config, "EFI variable Boot0000 (BootManagerMenuApp)",
            load_option_digest(kLoadOptionHiddenApp, "BootManagerMenuApp", kBootManagerMenuFile));
        add(0, K::firmware_config, "EFI variable Boot0001 (EFI Firmware Setup)",
            load_option_digest(kLoadOptionActiveApp, "EFI Firmware Setup", kFrontPageFile));
    } else {
        add(0, K::firmware_config, "EFI variable BootOrder (0000)", sha384(Bytes{0, 0}));
        add(0, K::firmware_config, "EFI variable Boot0000 (UiApp)",
            load_option_digest(kLoadOptionHiddenApp, "UiApp", kFrontPageFile));
    }
    add(1, K::kernel, "kernel, QEMU-patched (Authenticode SHA-384)", d.kernel_authenticode);
    add(1, K::firmware_config, "\"Calling EFI Application from Boot Option\"",
        sha384(as_bytes("Calling EFI Application from Boot Option")));
    add(1, K::firmware_config, "separator", separator_digest());
    add(1, K::firmware_config, "\"Exit Boot Services Invocation\"", sha384(as_bytes("Exit Boot Services Invocation")));
    add(1, K::firmware_config, "\"Exit Boot Services Returned with Success\"",
        sha384(as_bytes("Exit Boot Services Returned with Success")));
    add(2, K::cmdline, "kernel command line (LoadOptions)", d.cmdline);
    add(2, K::initrd, "initrd", d.initrd);
    m.rtmr0 = d.acpi ? std::optional(fold(ev, 0)) : std::nullopt;
    m.rtmr1 = fold(ev, 1);
    m.rtmr2 = fold(ev, 2);
    return m;
}

BootDigests boot_digests_from_image(const ImageFiles& image, const VmShape& shape,
                                    const std::optional<AcpiDigests>& acpi) {
    const auto metadata = parse_tdvf(image.firmware);
    BootDigests d;
    d.variant = shape.variant;
    d.mrtd = compute_mrtd(image.firmware, metadata, shape.page_order);
    d.td_hob = sha384(build_td_hob(td_hob_layout(metadata), shape.memory_size));
    d.acpi = acpi;
    d.kernel_authenticode =
        authenticode_sha384(patch_kernel_setup_header(image.kernel, image.initrd.size(), shape.memory_size));
    d.cmdline = cmdline_digest(image.cmdline);
    d.initrd = sha384(image.initrd);
    return d;
}

Octets<32> mr_system(const Measurement& mrtd, const std::array<Measurement, 3>& rtmr,
                     const Octets<32>& mr_key_provider) {
    Bytes data(mrtd.begin(), mrtd.end());
    for (const auto& r : rtmr) data.insert(data.end(), r.begin(), r.end());
    data.insert(data.end(), mr_key_provider.begin(), mr_key_provider.end());
    return sha256(data);
}

Octets<32> mr_aggregated(const TdReportBody& td) {
    Bytes data(td.mr_td.begin(), td.mr_td.end());
    for (const auto& r : td.rtmr) data.insert(data.end(), r.begin(), r.end());
    if (!all_zero(td.mr_config_id) || !all_zero(td.mr_owner) || !all_zero(td.mr_owner_config)) {
        for (const auto* field : {&td.mr_config_id, &td.mr_owner, &td.mr_owner_config}) {
            data.insert(data.end(), field->begin(), field->end());
        }
    }
    return sha256(data);
}

}  // namespace tdxkit
