// The forms in which dstack ships what a TD boots: an image directory (metadata.json and the files
// it names), the vm_config the VMM gives the TD, and the lite measurement document that vm_config
// can carry (measurement.tdx.cbor, bound to os_image_hash through sha256sum.txt).

#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "core/json.hpp"
#include "core/json_fields.hpp"
#include "core/read_file.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure_boot.hpp"

namespace tdxkit {
namespace {

using detail::JsonField;
using nlohmann::json;

constexpr std::size_t kMaxMetadataSize = 1024 * 1024;
constexpr std::size_t kMaxImageFileSize = std::size_t{1} << 30;
constexpr std::size_t kMaxVmConfigSize = 4 * 1024 * 1024;
constexpr std::size_t kMaxMeasurementDocumentSize = 64 * 1024;
constexpr int kLiteDocumentVersion = 3;
constexpr std::string_view kMeasurementDocumentName = "measurement.tdx.cbor";
// The lite document's kernel digest is of the kernel as QEMU patches it for exactly these memory
// sizes (dstack-mr kernel.rs: the initrd lands at the same address for all of them).
constexpr std::uint64_t kLiteMemoryLow = 0x80000000;
constexpr std::uint64_t kLiteMemoryHighFrom = 0xB0000000;

// A member that dstack's serde reads as Option: absent and null are both "not given".
std::optional<JsonField> given(const JsonField& object, std::string_view key) {
    auto member = object.optional_member(key);
    if (member && member->value().is_null()) return std::nullopt;
    return member;
}

// A member naming an OVMF variant or a QEMU version: what parse_ovmf_variant or page_order_for_qemu
// refuse is a fault of the document, reported at the member.
OvmfVariant variant_member(const JsonField& field) {
    try {
        return parse_ovmf_variant(field.string());
    } catch (const Error& e) {
        field.fail(e.what());
    }
}

std::string qemu_version_member(const JsonField& field) {
    try {
        (void)page_order_for_qemu(field.string());
    } catch (const Error& e) {
        field.fail(e.what());
    }
    return field.string();
}

std::string text_of(ByteSpan bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

Measurement measurement_member(const JsonField& object, std::string_view key) {
    const auto field = object.member(key);
    if (!field.value().is_binary() || field.value().get_binary().size() != 48) {
        field.fail("expected a byte string of 48 bytes");
    }
    Measurement m{};
    std::ranges::copy(field.value().get_binary(), m.begin());
    return m;
}

// The vm_config object inside the JSON forms it travels in, and the event log of a wrapper that
// carries one (a GetQuote response).
json unwrap_vm_config(std::string_view text, std::optional<std::string>& event_log) {
    auto doc = detail::parse_json(text, "vm_config");
    if (doc.is_object() && doc.contains("vm_config") && doc.contains("event_log")) {
        const auto& log = doc["event_log"];
        // The log's own parser reads it; a string is the JSON text itself, an array is re-serialized
        // (bounded: it came from this document, at most kMaxVmConfigSize bytes).
        event_log = log.is_string() ? log.get<std::string>() : log.dump();
    }
    // Two levels at most: {"vm_config": "<JSON string>"} holds one string holding the object.
    for (int level = 0; level < 3; ++level) {
        if (doc.is_string()) {
            const auto inner = doc.get<std::string>();
            doc = detail::parse_json(inner, "vm_config (the JSON string)");
        } else if (doc.is_object() && doc.contains("vm_config")) {
            auto inner = std::move(doc["vm_config"]);
            doc = std::move(inner);
        } else {
            break;
        }
    }
    if (!doc.is_object()) {
        throw Error(Errc::malformed, "vm_config: expected an object, a JSON string holding one, or an object with a "
                                     "\"vm_config\" member");
    }
    return doc;
}

// sha256sum.txt's digest for measurement.tdx.cbor, read as dstack reads it (sha256sum_entry_hash).
Octets<32> checksum_entry(ByteSpan checksum_file) {
    std::optional<Octets<32>> found;
    std::size_t line_number = 0;
    const auto text = text_of(checksum_file);
    for (std::size_t start = 0; start < text.size();) {
        const auto end = std::min(text.find('\n', start), text.size());
        const std::string_view line(text.data() + start, end - start);
        start = end + 1;
        ++line_number;
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos) continue;
        const auto hash_end = line.find_first_of(" \t\r", first);
        const auto name_start =
            hash_end == std::string_view::npos ? hash_end : line.find_first_not_of(" \t\r", hash_end);
        if (name_start == std::string_view::npos) {
            throw Error(Errc::malformed,
                        fmt::format("sha256sum.txt line {}: a digest without a file name", line_number));
        }
        const auto name_end = line.find_first_of(" \t\r", name_start);
        if (line.substr(name_start, name_end - name_start) != kMeasurementDocumentName) continue;
        if (found) {
            throw Error(Errc::malformed, fmt::format("sha256sum.txt line {}: a second entry for {}", line_number,
                                                     kMeasurementDocumentName));
        }
        const auto digest = from_hex(line.substr(first, hash_end - first), "sha256sum.txt digest");
        if (digest.size() != 32) {
            throw Error(Errc::malformed, fmt::format("sha256sum.txt line {}: the digest is {} bytes, not 32",
                                                     line_number, digest.size()));
        }
        found.emplace();
        std::ranges::copy(digest, found->begin());
    }
    if (!found) {
        throw Error(Errc::malformed, fmt::format("sha256sum.txt has no line for {}", kMeasurementDocumentName));
    }
    return *found;
}

}  // namespace

ImageDirectory read_image_directory(const std::string& directory) {
    const std::filesystem::path dir(directory);
    const auto metadata_path = dir / "metadata.json";
    const auto metadata_bytes = detail::read_file_bounded(metadata_path, kMaxMetadataSize);
    const auto doc = detail::parse_json(text_of(metadata_bytes), metadata_path.string());
    const std::string source = metadata_path.string();
    const JsonField root(doc, "", {Errc::malformed, source});
    const auto file = [&](std::string_view key) {
        const auto field = root.member(key);
        const auto& name = field.string();
        // Plain names only: metadata.json describes files of its own directory.
        if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
            field.fail("expected a file name inside the image directory");
        }
        return detail::read_file_bounded(dir / name, kMaxImageFileSize);
    };
    ImageDirectory image;
    image.files.firmware = file("bios");
    image.files.kernel = file("kernel");
    image.files.initrd = file("initrd");
    image.files.cmdline = root.member("cmdline").string();
    if (const auto v = given(root, "version")) image.version = v->string();
    if (const auto v = given(root, "ovmf_variant")) image.ovmf_variant = variant_member(*v);
    const auto checksums = dir / "sha256sum.txt";
    if (std::filesystem::exists(checksums))
        image.os_image_hash = sha256(detail::read_file_bounded(checksums, kMaxMetadataSize));
    return image;
}

PageOrder VmConfig::page_order() const {
    // dstack-mr passes qemu_single_pass_add_pages as its two_pass_add_pages option (tdx.rs, and the
    // verifier): `true` selects two-pass. Replicated so that predictions match what dstack accepts.
    if (qemu_single_pass_add_pages) {
        // The version is still checked, as dstack-mr checks it.
        (void)page_order_for_qemu(qemu_version);
        return *qemu_single_pass_add_pages ? PageOrder::two_pass : PageOrder::single_pass;
    }
    return page_order_for_qemu(qemu_version);
}

VmConfig parse_vm_config(std::string_view json_text) {
    if (json_text.size() > kMaxVmConfigSize) {
        throw Error(Errc::malformed,
                    fmt::format("vm_config: {} bytes is over the limit of {}", json_text.size(), kMaxVmConfigSize));
    }
    VmConfig config;
    const auto doc = unwrap_vm_config(json_text, config.event_log);
    const JsonField root(doc, "vm_config", {Errc::malformed, {}});
    if (const auto v = given(root, "os_image_hash"); v && !v->string().empty()) config.os_image_hash = v->octets<32>();
    if (const auto v = given(root, "cpu_count")) config.cpu_count = v->integer<std::uint32_t>();
    config.memory_size = root.member("memory_size").integer<std::uint64_t>();
    if (config.memory_size == 0 || config.memory_size % 4096 != 0) {
        root.member("memory_size").fail("must be a positive multiple of 4096 bytes");
    }
    if (const auto v = given(root, "qemu_single_pass_add_pages")) config.qemu_single_pass_add_pages = v->boolean();
    if (const auto v = given(root, "qemu_version")) config.qemu_version = qemu_version_member(*v);
    if (const auto v = given(root, "image")) config.image = v->string();
    if (const auto v = given(root, "ovmf_variant")) config.ovmf_variant = variant_member(*v);
    if (const auto v = given(root, "tdx_attestation_variant")) {
        config.attestation_variant = v->string();
        if (config.attestation_variant != "legacy" && config.attestation_variant != "lite") {
            v->fail("expected \"legacy\" or \"lite\"");
        }
    }
    if (const auto m = given(root, "tdx_measurement")) {
        const auto base64 = [&](std::string_view key) {
            const auto field = m->member(key);
            return from_base64(field.string(), fmt::format("vm_config.tdx_measurement.{}", key));
        };
        config.checksum_file = base64("checksum_file");
        config.measurement_document = base64("measurement");
    }
    return config;
}

LiteMeasurementDocument parse_lite_measurement_document(ByteSpan cbor) {
    if (cbor.size() > kMaxMeasurementDocumentSize) {
        throw Error(Errc::malformed, fmt::format("{}: {} bytes is over the limit of {}", kMeasurementDocumentName,
                                                 cbor.size(), kMaxMeasurementDocumentSize));
    }
    // Three levels deep (tdvf.mrtd.*); a little room for members dstack may add.
    const auto doc = detail::parse_cbor(cbor, kMeasurementDocumentName, 8);
    const JsonField root(doc, std::string(kMeasurementDocumentName), {Errc::malformed, {}});
    const auto version = root.member("version");
    if (!version.value().is_number_unsigned()) version.fail("expected an unsigned integer");
    if (version.value().get<std::uint64_t>() != kLiteDocumentVersion) {
        throw Error(Errc::unsupported, fmt::format("{}: version {}, tdxkit reads version {}", kMeasurementDocumentName,
                                                   version.value().get<std::uint64_t>(), kLiteDocumentVersion));
    }
    LiteMeasurementDocument d;
    const auto image = root.member("image");
    d.cmdline = measurement_member(image, "cmdline_sha384");
    d.kernel_authenticode = measurement_member(image, "kernel_authenticode");
    d.initrd = measurement_member(image, "initrd_sha384");
    const auto tdvf = root.member("tdvf");
    d.variant = variant_member(tdvf.member("ovmf"));
    const auto mrtd = tdvf.member("mrtd");
    d.mrtd_single_pass = measurement_member(mrtd, "single_pass");
    d.mrtd_two_pass = measurement_member(mrtd, "two_pass");
    const auto witness = tdvf.member("td_hob");
    if (!witness.value().is_binary()) witness.fail("expected a byte string");
    d.td_hob = decode_td_hob_witness(witness.value().get_binary());
    return d;
}

void verify_lite_measurement_binding(ByteSpan checksum_file, ByteSpan document, const Octets<32>& os_image_hash) {
    const auto checksum_digest = sha256(checksum_file);
    if (!equal_ct(checksum_digest, os_image_hash)) {
        throw Error(
            Errc::malformed,
            fmt::format("os_image_hash mismatch: vm_config says {}, sha256(tdx_measurement.checksum_file) is {}",
                        to_hex(os_image_hash), to_hex(checksum_digest)));
    }
    const auto listed = checksum_entry(checksum_file);
    const auto document_digest = sha256(document);
    if (!equal_ct(listed, document_digest)) {
        throw Error(Errc::malformed,
                    fmt::format("{} hash mismatch: sha256sum.txt lists {}, the document's sha256 is {}",
                                kMeasurementDocumentName, to_hex(listed), to_hex(document_digest)));
    }
}

BootDigests boot_digests_from_vm_config(const VmConfig& config, const std::optional<AcpiDigests>& acpi,
                                        std::optional<PageOrder> page_order) {
    if (config.memory_size != kLiteMemoryLow && config.memory_size < kLiteMemoryHighFrom) {
        throw Error(Errc::unsupported,
                    fmt::format("vm_config.memory_size is {} bytes ({} MiB); the lite measurement document serves "
                                "exactly 2147483648 bytes (2048 MiB) or at least 2952790016 bytes (2816 MiB), the "
                                "sizes its kernel digest holds for; measure the image instead (--image)",
                                config.memory_size, config.memory_size >> 20));
    }
    if (!config.checksum_file || !config.measurement_document) {
        throw Error(Errc::unsupported, "vm_config has no tdx_measurement (checksum_file and measurement): it "
                                       "describes a legacy boot; measure the image instead (--image)");
    }
    if (!config.os_image_hash) {
        throw Error(Errc::malformed, "vm_config has no os_image_hash to check tdx_measurement against");
    }
    verify_lite_measurement_binding(*config.checksum_file, *config.measurement_document, *config.os_image_hash);
    const auto doc = parse_lite_measurement_document(*config.measurement_document);
    if (config.ovmf_variant && *config.ovmf_variant != doc.variant) {
        throw Error(Errc::malformed, "vm_config.ovmf_variant differs from the measurement document's");
    }
    BootDigests d;
    d.variant = doc.variant;
    d.mrtd = page_order.value_or(config.page_order()) == PageOrder::two_pass ? doc.mrtd_two_pass : doc.mrtd_single_pass;
    d.td_hob = sha384(build_td_hob(doc.td_hob, config.memory_size));
    d.acpi = acpi;
    d.kernel_authenticode = doc.kernel_authenticode;
    d.cmdline = doc.cmdline;
    d.initrd = doc.initrd;
    return d;
}

}  // namespace tdxkit
