// Boot-chain prediction (measure_boot.hpp) against values from independent sources: the dstack
// verifier's tdx-lite fixture (its quote's registers), digests dstack-mr hard-codes or its tests
// assert, and the values the independent Python model tests/measure/model.py computes.

#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/measure_boot.hpp"
#include "tdxkit/quote.hpp"

using namespace tdxkit;
using nlohmann::json;
using test::code_of;
using test::read_text;

namespace {

constexpr std::string_view kDstackWitness = "80100904000609020b021010";

json lite_fixture() {
    return json::parse(read_text(test::real_testdata() / "eventlogs/dstack-verifier-tdx-lite-getquote.json"));
}

std::string hob_digest(std::uint64_t memory) {
    return to_hex(sha384(build_td_hob(decode_td_hob_witness(from_hex(kDstackWitness)), memory)));
}

Bytes setup_header(std::uint16_t protocol, std::uint8_t loadflags, std::uint16_t xloadflags) {
    Bytes k(0x1000, 0);
    k[0x206] = static_cast<std::uint8_t>(protocol);
    k[0x207] = static_cast<std::uint8_t>(protocol >> 8U);
    k[0x211] = loadflags;
    k[0x236] = static_cast<std::uint8_t>(xloadflags);
    return k;
}

std::uint32_t u32_at(const Bytes& b, std::size_t at) {
    return static_cast<std::uint32_t>(b[at] | (b[at + 1] << 8U) | (b[at + 2] << 16U) | (b[at + 3] << 24U));
}

}  // namespace

TEST_CASE("RTMR0-2 fixed events equal dstack-mr's constants and the tdx-lite log") {
    const auto m = assemble_boot_measurement(BootDigests{});
    REQUIRE(m.events.size() == 17);  // 10 RTMR0 without ACPI, 5 RTMR1, 2 RTMR2
    const auto digest = [&](std::string_view description) {
        for (const auto& e : m.events) {
            if (e.description.starts_with(description)) return to_hex(e.digest);
        }
        FAIL("no event " << description);
        return std::string();
    };
    CHECK(digest("CFV") ==
          "344bc51c980ba621aaa00da3ed7436f7d6e549197dfe699515dfa2c6583d95e6412af21c097d473155875ffd561d6790");
    CHECK(digest("EFI variable SecureBoot") ==
          "9dc3a1f80bcec915391dcda5ffbb15e7419f77eab462bbf72b42166fb70d50325e37b36f93537a863769bcf9bedae6fb");
    CHECK(digest("EFI variable PK") ==
          "6f2e3cbc14f9def86980f5f66fd85e99d63e69a73014ed8a5633ce56eca5b64b692108c56110e22acadcef58c3250f1b");
    CHECK(digest("EFI variable KEK") ==
          "d607c0efb41c0d757d69bca0615c3a9ac0b1db06c557d992e906c6b7dee40e0e031640c7bfd7bcd35844ef9edeadc6f9");
    CHECK(digest("EFI variable db ") ==
          "08a74f8963b337acb6c93682f934496373679dd26af1089cb4eaf0c30cf260a12e814856385ab8843e56a9acea19e127");
    CHECK(digest("EFI variable dbx") ==
          "18cc6e01f0c6ea99aa23f8a280423e94ad81d96d0aeb5180504fc0f7a40cb3619dd39bd6a95ec1680a86ed6ab0f9828d");
    CHECK(digest("separator") ==
          "394341b7182cd227c5c6b07ef8000cdfd86136c4292b8e576573ad7ed9ae41019f5818b4b971c9effc60e1ad9f1289f0");
    CHECK(digest("EFI variable BootOrder") ==
          "1dd6f7b457ad880d840d41c961283bab688e94e4b59359ea45686581e90feccea3c624b1226113f824f315eb60ae0a7c");
    CHECK(digest("EFI variable Boot0000") ==
          "23ada07f5261f12f34a0bd8e46760962d6b4d576a416f1fea1c64bc656b1d28eacf7047ae6e967c58fd2a98bfa74c298");
    CHECK(digest("\"Calling EFI") ==
          "77a0dab2312b4e1e57a84d865a21e5b2ee8d677a21012ada819d0a98988078d3d740f6346bfe0abaa938ca20439a8d71");
    CHECK(digest("\"Exit Boot Services Invocation") ==
          "214b0bef1379756011344877743fdc2a5382bac6e70362d624ccf3f654407c1b4badf7d8f9295dd3dabdef65b27677e0");
    CHECK(digest("\"Exit Boot Services Returned") ==
          "0a2e01c85deae718a530ad8c6d20a84009babe6c8989269e950d8cf440c6e997695e64d455c4174a652cd080f6230b74");
    CHECK_FALSE(m.rtmr0.has_value());
}

TEST_CASE("TD HOB from dstack's witness: the digests of two real logs and the q35 split") {
    const auto layout = decode_td_hob_witness(from_hex(kDstackWitness));
    CHECK(layout.hob_base == 0x809000);
    CHECK(layout.accepted ==
          std::vector<MemoryRange>{{0x800000, 0x6000}, {0x809000, 0x2000}, {0x80B000, 0x2000}, {0x810000, 0x10000}});
    CHECK(to_hex(encode_td_hob_witness(layout)) == kDstackWitness);
    const auto hob2g = build_td_hob(layout, 0x80000000);
    CHECK(hob2g.size() == 440);
    CHECK(to_hex(ByteSpan(hob2g).subspan(48, 8)) == "c091800000000000");  // EfiEndOfHobList 0x8091C0
    // The tdx-lite log (2 GiB) and the quote-report log (64 GiB).
    CHECK(hob_digest(0x80000000) ==
          "0b8772e5b0b41b83e6044a68397e02f49fb47066b4fbe4917ea2c45c64f323fdacbb37948f821ebaf8bc9c938ba8a749");
    CHECK(hob_digest(0x1000000000) ==
          "8ae1e425351df7992c444586eff99d35af3b779aa2b0e981cb4b73bc5b279f2ade19b6a62a203fc3c3bbdaae80af596d");
    CHECK(hob_digest(0x100000000) ==
          "5b684faf8d02a733945f821d9cdd170802e72103977acf66949c9382500283adc90cbec57f8e7653f8bee1cab83689de");
    CHECK(hob_digest(0xB0000000) ==
          "8eb1a02074362aa0761541cdb4dc3f1788dfeb4538803b241477848e26de294dbe917ab56c5628732679b3abc168c2de");
    CHECK(hob_digest(0x40000000) ==
          "1055c9b9a1fc534e688560e2304e18c8597b7261818cf61fb163d40c130547309b750575947a4dcaedbdce4b8d0535f2");
    CHECK(hob_digest(0x2000000) ==
          "003f284761a5d1007dc514c460ae5679b6f31d3e7f5129b937415a8a03a8d1cb8abd40ab12b83422835e15ab7e746935");
}

TEST_CASE("TD HOB witness: malformed witnesses and memory sizes are refused") {
    CHECK(code_of([] { (void)decode_td_hob_witness(from_hex("801009040006")); }) == Errc::malformed);  // truncated
    CHECK(code_of([] { (void)decode_td_hob_witness(from_hex("80100904000609020b02101000")); }) == Errc::malformed);
    CHECK(code_of([] { (void)decode_td_hob_witness(from_hex("ffffffffffffffffff7f00010001")); }) == Errc::malformed);
    CHECK(code_of([] { (void)decode_td_hob_witness(from_hex("8010090200060004")); }) == Errc::malformed);  // overlap
    CHECK(code_of([] { (void)decode_td_hob_witness(from_hex("80100901ffffffffffffffffff01")); }) == Errc::malformed);
    const auto layout = decode_td_hob_witness(from_hex(kDstackWitness));
    CHECK(code_of([&] { (void)build_td_hob(layout, 0x80000001); }) == Errc::invalid_argument);
    CHECK(code_of([&] { (void)build_td_hob(layout, 0x810000); }) == Errc::invalid_argument);
}

TEST_CASE("Kernel setup header: QEMU's initrd address for the memory sizes dstack-mr's tests use") {
    const auto k = setup_header(0x20C, 0x01, 0x40);
    const std::pair<std::uint64_t, std::uint32_t> cases[] = {{0x7FFFF000, 0x7FED6000},
                                                             {0x80000000, 0x7FED7000},
                                                             {0xAFFFF000, 0xAFED6000},
                                                             {0xB0000000, 0x7FED7000},
                                                             {0x400000000, 0x7FED7000}};
    for (const auto& [memory, address] : cases) {
        CAPTURE(memory);
        const auto p = patch_kernel_setup_header(k, 0x100000, memory);
        CHECK(u32_at(p, 0x218) == address);
        CHECK(u32_at(p, 0x21C) == 0x100000);
        CHECK(p[0x210] == 0xB0);
        CHECK(p[0x211] == 0x81);
        CHECK(u32_at(p, 0x224) == 0xFE00);
        CHECK(u32_at(p, 0x228) == 0x20000);
    }
    CHECK(code_of([] { (void)patch_kernel_setup_header(Bytes(0xFFF), 0, 0x80000000); }) == Errc::malformed);
    CHECK(code_of([&] { (void)patch_kernel_setup_header(k, 0x7FFD7FFF, 0x80000000); }) == Errc::invalid_argument);
    CHECK(code_of([&] { (void)patch_kernel_setup_header(k, 0x100000000, 0x80000000); }) == Errc::invalid_argument);
}

TEST_CASE("Command line digest: UTF-16LE with ' initrd=initrd' and a NUL") {
    CHECK(to_hex(cmdline_digest("console=ttyS0")) ==
          "1d26f8aff8992fdfc37e88b4fdf4a1a0ebb815a2ce925ea3046b3ba1f24a933e75a163af2af579268c20ca5f476f5386");
    CHECK(to_hex(cmdline_digest("")) ==
          "c319595b2bb091f3dd05269a56e1299fafcd721c98e7520fa80c9915df630d3cecbc2060607b91e486b6e646cfbc50dd");
    CHECK(code_of([] { (void)cmdline_digest("bad \xC3"); }) == Errc::invalid_argument);
    CHECK(code_of([] { (void)cmdline_digest("surrogate \xED\xA0\x80"); }) == Errc::invalid_argument);
}

TEST_CASE("QEMU version decides the page order as dstack-mr does") {
    CHECK(page_order_for_qemu(std::nullopt) == PageOrder::single_pass);
    CHECK(page_order_for_qemu("8.2.2") == PageOrder::two_pass);
    CHECK(page_order_for_qemu("9.2.1") == PageOrder::single_pass);
    for (const auto* bad : {"8.2.2+ds", "9.2", "7.2.0", "", "9..1", "a.b.c", "9.1.0.1"}) {
        CAPTURE(bad);
        CHECK(code_of([&] { (void)page_order_for_qemu(std::string(bad)); }) == Errc::invalid_argument);
    }
    VmConfig config;
    config.qemu_version = "9.2.1";
    config.qemu_single_pass_add_pages = true;  // dstack's inverted flag: true means two-pass
    CHECK(config.page_order() == PageOrder::two_pass);
}

TEST_CASE("tdx-lite fixture: the vm_config and the log's ACPI digests predict the quote's MRTD and RTMR0-2") {
    const auto fixture = lite_fixture();
    const auto config = parse_vm_config(fixture.dump());
    CHECK(config.memory_size == 0x80000000);
    CHECK(config.cpu_count == 2);
    CHECK(config.attestation_variant == "lite");
    REQUIRE(config.os_image_hash);
    CHECK(to_hex(*config.os_image_hash) == "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db");
    CHECK(to_hex(sha256(*config.checksum_file)) == to_hex(*config.os_image_hash));
    CHECK(config.page_order() == PageOrder::two_pass);  // QEMU 8.2.2
    // The document carries both MRTDs; an explicit order picks the other one.
    CHECK(to_hex(boot_digests_from_vm_config(config, std::nullopt, PageOrder::single_pass).mrtd) ==
          "a6f2ac9451810686a4db259fe8fa5438dc4a58bda9fd2f5b1fb0928335705500d29a15c92387416a2f52dddce99c83f8");

    const auto log = parse_dstack_event_log(fixture["event_log"].get<std::string>());
    const auto acpi = acpi_digests_from_event_log(log, OvmfVariant::pre202505);
    CHECK(to_hex(acpi.loader) ==
          "095d04cf26fe03aef6e3561fa24c1aa1cea93f4aeaf563b1f9f7616184c53454875925759434769cec2490acb563a337");
    const auto m = assemble_boot_measurement(boot_digests_from_vm_config(config, acpi));
    const auto quote = parse_quote(from_hex(fixture["quote"].get<std::string>()));
    REQUIRE(quote.td_body());
    const auto& td = *quote.td_body();
    CHECK(to_hex(m.mrtd) == to_hex(td.mr_td));
    REQUIRE(m.rtmr0);
    CHECK(to_hex(*m.rtmr0) == to_hex(td.rtmr[0]));
    CHECK(to_hex(m.rtmr1) == to_hex(td.rtmr[1]));
    CHECK(to_hex(m.rtmr2) == to_hex(td.rtmr[2]));
    // Every predicted event is the log's event at the same place in its register.
    const auto diagnosis = diagnose_boot(m, td, &log);
    CHECK(diagnosis.equal());
    CHECK_FALSE(diagnosis.log_problem);

    // dstack's derived values (tests/measure/model.py computes the same).
    CHECK(to_hex(mr_aggregated(td)) == "c758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee");
    // mr_key_provider: sha256 of the log's key-provider event payload.
    Octets<32> key_provider{};
    const auto kp = from_hex("4facf64384bf715c05d4dbf0251d72ebe32be4ec4c84ddc01548d70e21d3a512");
    std::copy(kp.begin(), kp.end(), key_provider.begin());
    CHECK(to_hex(mr_system(td.mr_td, {td.rtmr[0], td.rtmr[1], td.rtmr[2]}, key_provider)) ==
          "118f754a080ecb8527df65656ee4e7e97b891cf488ad6a38886ff0dbca0c8f70");
}

TEST_CASE("tdx-lite fixture: one changed input is named by diagnose") {
    const auto fixture = lite_fixture();
    const auto config = parse_vm_config(fixture.dump());
    const auto log = parse_dstack_event_log(fixture["event_log"].get<std::string>());
    const auto acpi = acpi_digests_from_event_log(log, OvmfVariant::pre202505);
    auto digests = boot_digests_from_vm_config(config, acpi);
    digests.initrd[0] ^= 1;
    const auto m = assemble_boot_measurement(digests);
    const auto quote = parse_quote(from_hex(fixture["quote"].get<std::string>()));
    const auto d = diagnose_boot(m, *quote.td_body(), &log);
    CHECK_FALSE(d.equal());
    REQUIRE(d.registers.size() == 4);
    CHECK(d.registers[0].equal);
    CHECK(d.registers[1].equal);
    CHECK(d.registers[2].equal);
    const auto& r2 = d.registers[3];
    CHECK_FALSE(r2.equal);
    REQUIRE(r2.event_position);
    CHECK(*r2.event_position == 1);
    REQUIRE(r2.expected_event);
    CHECK(r2.expected_event->kind == BootEventKind::initrd);
    CHECK(r2.cause == boot_event_kind_cause(BootEventKind::initrd));
}

TEST_CASE("Lite document: binding, memory sizes and variants are checked") {
    const auto fixture = lite_fixture();
    auto config = parse_vm_config(fixture.dump());
    SUBCASE("a memory size the kernel digest does not hold for") {
        config.memory_size = 0x100000000 - 0x60000000;  // 2.5 GiB
        CHECK(code_of([&] { (void)boot_digests_from_vm_config(config, std::nullopt); }) == Errc::unsupported);
    }
    SUBCASE("os_image_hash not of the checksum file") {
        (*config.os_image_hash)[0] ^= 1;
        CHECK(code_of([&] { (void)boot_digests_from_vm_config(config, std::nullopt); }) == Errc::malformed);
    }
    SUBCASE("a document not listed in the checksum file") {
        config.measurement_document->push_back(0);
        CHECK(code_of([&] { (void)boot_digests_from_vm_config(config, std::nullopt); }) == Errc::malformed);
    }
    SUBCASE("an unknown OVMF variant") {
        CHECK(code_of([] { (void)parse_ovmf_variant("stable202408"); }) == Errc::invalid_argument);
        CHECK(code_of([] { (void)parse_ovmf_variant("edk2-stable202408.01"); }) == Errc::invalid_argument);
        CHECK(code_of([] { (void)parse_ovmf_variant("Pre202505"); }) == Errc::invalid_argument);
    }
}

TEST_CASE("Synthetic image: every case of the independent model's expected.json") {
    const auto dir = test::source_dir() / "testdata/measure/synthetic";
    const auto expected = json::parse(read_text(dir / "expected.json"));
    auto image = read_image_directory(dir.string());
    REQUIRE(image.os_image_hash);
    CHECK(to_hex(*image.os_image_hash) == expected["os_image_hash"].get<std::string>());
    const auto metadata = parse_tdvf(image.files.firmware);
    CHECK(metadata.sections.size() == 6);
    const auto acpi = acpi_digests_from_blobs(test::read_file(dir / "acpi/table-loader"),
                                              test::read_file(dir / "acpi/rsdp"), test::read_file(dir / "acpi/tables"));
    REQUIRE(expected["cases"].size() == 7);
    for (const auto& c : expected["cases"]) {
        CAPTURE(c["name"].get<std::string>());
        auto files = image.files;
        files.kernel = test::read_file(dir / c["kernel"].get<std::string>());
        const VmShape shape{c["memory_size"].get<std::uint64_t>(),
                            c["page_order"] == "two_pass" ? PageOrder::two_pass : PageOrder::single_pass,
                            OvmfVariant::pre202505};
        CHECK(to_hex(build_td_hob(td_hob_layout(metadata), shape.memory_size)) == c["td_hob"].get<std::string>());
        const auto digests = boot_digests_from_image(files, shape, acpi);
        CHECK(to_hex(digests.kernel_authenticode) == c["kernel_authenticode"].get<std::string>());
        CHECK(to_hex(digests.cmdline) == c["cmdline_digest"].get<std::string>());
        CHECK(to_hex(digests.initrd) == c["initrd_digest"].get<std::string>());
        CHECK(to_hex(digests.acpi->tables) == c["acpi"]["tables"].get<std::string>());
        const auto m = assemble_boot_measurement(digests);
        CHECK(to_hex(m.mrtd) == c["mrtd"].get<std::string>());
        CHECK(to_hex(*m.rtmr0) == c["rtmr0"].get<std::string>());
        CHECK(to_hex(m.rtmr1) == c["rtmr1"].get<std::string>());
        CHECK(to_hex(m.rtmr2) == c["rtmr2"].get<std::string>());
        REQUIRE(m.events.size() == c["events"].size());
        // The model lists events grouped by register, as assemble_boot_measurement does.
        for (std::size_t i = 0; i < m.events.size(); ++i) {
            CHECK(m.events[i].rtmr == c["events"][i]["rtmr"].get<std::uint32_t>());
            CHECK(to_hex(m.events[i].digest) == c["events"][i]["digest"].get<std::string>());
        }
    }
}

namespace {

Bytes synthetic_firmware() { return test::read_file(test::source_dir() / "testdata/measure/synthetic/firmware.fd"); }
Bytes synthetic_kernel() { return test::read_file(test::source_dir() / "testdata/measure/synthetic/bzImage"); }

void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8U * i));
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

// Offsets of the synthetic image: tests/tools/synthetic_image.cpp documents them.
TEST_CASE("Firmware: each structural check refuses a broken image and names what is wrong") {
    const auto fw = synthetic_firmware();
    REQUIRE(fw.size() == 0x40000);
    SUBCASE("truncated") {
        const Bytes cut(fw.begin(), fw.begin() + 0x30000);
        CHECK(code_of([&] { (void)parse_tdvf(cut); }) == Errc::malformed);
        CHECK(error_of([&] { (void)parse_tdvf(Bytes(fw.begin(), fw.begin() + 40)); }).find("too short") !=
              std::string::npos);
    }
    SUBCASE("bad footer GUID") {
        auto bad = fw;
        bad[0x3FFD0] ^= 1;
        CHECK(error_of([&] { (void)parse_tdvf(bad); }).find("footer GUID") != std::string::npos);
    }
    SUBCASE("an entry length of 0 would loop forever in dstack-mr") {
        auto bad = fw;
        bad[0x3FFBC] = 0;  // the SEV entry nearest the footer
        bad[0x3FFBD] = 0;
        CHECK(error_of([&] { (void)parse_tdvf(bad); }).find("has length 0") != std::string::npos);
    }
    SUBCASE("a metadata offset beyond the image") {
        auto bad = fw;
        put_u32(bad, 0x3FFA2, 0x50000);
        CHECK(error_of([&] { (void)parse_tdvf(bad); }).find("outside") != std::string::npos);
    }
    SUBCASE("descriptor signature and version") {
        auto bad = fw;
        bad[0x3F010] = 'X';
        CHECK(error_of([&] { (void)parse_tdvf(bad); }).find("signature") != std::string::npos);
        bad = fw;
        put_u32(bad, 0x3F018, 2);
        CHECK(code_of([&] { (void)parse_tdvf(bad); }) == Errc::unsupported);
    }
    SUBCASE("a section count that runs past the image, or is absurd") {
        auto bad = fw;
        put_u32(bad, 0x3F01C, 64);
        CHECK(code_of([&] { (void)parse_tdvf(bad); }) == Errc::malformed);
        put_u32(bad, 0x3F01C, 0xFFFFFFFF);
        CHECK(error_of([&] { (void)parse_tdvf(bad); }).find("sections") != std::string::npos);
    }
    SUBCASE("a measured section outside the file") {
        auto bad = fw;
        put_u32(bad, 0x3F020, 0x30000);  // BFV data offset: 0x30000 + 0x20000 > 0x40000
        const auto why = error_of([&] { (void)parse_tdvf(bad); });
        CHECK(why.find("section 0 (BFV)") != std::string::npos);
        CHECK(why.find("outside") != std::string::npos);
    }
    SUBCASE("sections overlapping in guest memory, or misaligned") {
        auto bad = fw;
        put_u32(bad, 0x3F020 + 3 * 32 + 8, 0x804000);  // inside TEMP_MEM 0x800000..0x806000
        CHECK(error_of([&] { (void)parse_tdvf(bad); }).find("overlap") != std::string::npos);
        bad = fw;
        put_u32(bad, 0x3F020 + 3 * 32 + 8, 0x809800);
        CHECK(error_of([&] { (void)parse_tdvf(bad); }).find("not page aligned") != std::string::npos);
    }
}

TEST_CASE("MRTD: page order, PAGE_AUG and MR_EXTEND each change the digest") {
    const auto fw = synthetic_firmware();
    auto meta = parse_tdvf(fw);
    const auto single = compute_mrtd(fw, meta, PageOrder::single_pass);
    const auto two = compute_mrtd(fw, meta, PageOrder::two_pass);
    CHECK(single != two);
    auto aug = meta;
    aug.sections[5].attributes = 0;  // the PAGE_AUG section is now added page by page
    CHECK(compute_mrtd(fw, aug, PageOrder::single_pass) != single);
    auto data = fw;
    data[0x20000] ^= 1;  // first byte of the measured BFV
    CHECK(compute_mrtd(data, meta, PageOrder::single_pass) != single);
    data = fw;
    data[0x10000] ^= 1;  // inside the CFV, which MRTD does not measure (RTMR0 does)
    CHECK(compute_mrtd(data, meta, PageOrder::single_pass) == single);
    meta.sections[0].data_offset = 0x30000;
    CHECK(code_of([&] { (void)compute_mrtd(fw, meta, PageOrder::single_pass); }) == Errc::invalid_argument);
}

TEST_CASE("PE: headers and section table outside the image are refused with the structure named") {
    const auto k = synthetic_kernel();
    SUBCASE("e_lfanew past the end") {
        auto bad = k;
        put_u32(bad, 0x3C, 0x7FFFFFF0);
        CHECK(error_of([&] { (void)authenticode_sha384(bad); }).find("PE signature") != std::string::npos);
    }
    SUBCASE("no PE signature") {
        auto bad = k;
        bad[0x40] = 'X';
        CHECK(error_of([&] { (void)authenticode_sha384(bad); }).find("no \"PE") != std::string::npos);
    }
    SUBCASE("section table outside the image") {
        auto bad = k;
        bad[0x44 + 2] = 0xFF;  // NumberOfSections 0xFFFF: 2.6 MB of section headers
        bad[0x44 + 3] = 0xFF;
        CHECK(error_of([&] { (void)authenticode_sha384(bad); }).find("section table") != std::string::npos);
    }
    SUBCASE("SizeOfHeaders beyond the image or before the certificate directory") {
        auto bad = k;
        put_u32(bad, 0x94, 0x100000);
        CHECK(error_of([&] { (void)authenticode_sha384(bad); }).find("SizeOfHeaders") != std::string::npos);
        put_u32(bad, 0x94, 0x80);
        CHECK(code_of([&] { (void)authenticode_sha384(bad); }) == Errc::malformed);
    }
    SUBCASE("the checksum and certificate directory are not hashed; sections are") {
        const auto digest = authenticode_sha384(k);
        auto changed = k;
        changed[0x98] ^= 0xFF;  // CheckSum
        CHECK(authenticode_sha384(changed) == digest);
        changed = k;
        changed[0x2000] ^= 1;  // .text
        CHECK(authenticode_sha384(changed) != digest);
    }
}

TEST_CASE("Strict CBOR: the lite document refuses duplicates, indefinite lengths, tags, depth and trailing bytes") {
    const auto fixture = lite_fixture();
    const auto config = parse_vm_config(fixture.dump());
    const auto& good = *config.measurement_document;
    CHECK_NOTHROW((void)parse_lite_measurement_document(good));
    // {"version": 3, "version": 3}
    CHECK(error_of([] {
              (void)parse_lite_measurement_document(from_hex("a26776657273696f6e036776657273696f6e03"));
          }).find("duplicate") != std::string::npos);
    // an indefinite-length map
    CHECK(error_of([] {
              (void)parse_lite_measurement_document(from_hex("bf6776657273696f6e03ff"));
          }).find("indefinite") != std::string::npos);
    // a tagged value
    CHECK(code_of([] { (void)parse_lite_measurement_document(from_hex("a16776657273696f6ec103")); }) ==
          Errc::malformed);
    // version 4
    CHECK(code_of([] { (void)parse_lite_measurement_document(from_hex("a16776657273696f6e04")); }) ==
          Errc::unsupported);
    // deep nesting stops before the reader recurses
    Bytes deep(10000, 0x81);
    deep.push_back(0x00);
    CHECK(error_of([&] { (void)parse_lite_measurement_document(deep); }).find("nested too deeply") !=
          std::string::npos);
    // trailing bytes, truncation
    auto longer = good;
    longer.push_back(0);
    CHECK(code_of([&] { (void)parse_lite_measurement_document(longer); }) == Errc::malformed);
    const Bytes shorter(good.begin(), good.end() - 1);
    CHECK(code_of([&] { (void)parse_lite_measurement_document(shorter); }) == Errc::malformed);
}

TEST_CASE("stable202505: the 17-event RTMR0 of edk2-stable202505 as dstack-mr computed it before 4cc8516f") {
    AcpiDigests acpi;
    acpi.loader[0] = 1;
    acpi.rsdp[0] = 2;
    acpi.tables[0] = 3;
    BootDigests digests;
    digests.acpi = acpi;
    digests.variant = OvmfVariant::stable202505;
    const auto m = assemble_boot_measurement(digests);
    std::vector<std::string> rtmr0;
    for (const auto& e : m.events) {
        if (e.rtmr == 0) rtmr0.push_back(to_hex(e.digest));
    }
    REQUIRE(rtmr0.size() == 17);
    // fw_cfg bootorder, BootOrder (dstack-mr's uefi_var.rs test), Boot0000, Boot0001 (tests/measure/model.py).
    CHECK(rtmr0[3] ==
          "53d3dbc00691328371e74c1b1c77bdf1bf4ff79dd1b55222b694fe8341cd8b0adb3a9ab9286552c681272883b9b0fc1d");
    CHECK(rtmr0[10] == to_hex(acpi.loader));
    CHECK(rtmr0[12] == to_hex(acpi.tables));
    CHECK(rtmr0[13] ==
          "fb66919801f1dfc9c4c273b6a739380790cb0fd3cb706a42f6ac050510ebc8618e7fba53a1564522f5c6f0dc9e1f41a6");
    CHECK(rtmr0[14] ==
          "52b9a02de946b947364b57d8210c63113b9058996e2a3ba7cead54af11ae0873b085d1e52bc01e4febe57ca05ca1332b");
    CHECK(rtmr0[15] ==
          "5068e6a9ded2a1c3a8ebb5d26004410ea8670742d8f444c5c3d161b76c66fa23a7b1d2fb3f9840570b675384b5818f2d");
    CHECK(rtmr0[16] ==
          "dd424f2eeb35f3e8a2c2f50f6cc87ff90b7577e92ce63e13a22869d07d104fd5ea9800e6e4f12c5058fc4eaa78374f20");
    // RTMR1 and RTMR2 do not depend on the variant.
    digests.variant = OvmfVariant::pre202505;
    const auto pre = assemble_boot_measurement(digests);
    CHECK(m.rtmr1 == pre.rtmr1);
    CHECK(m.rtmr2 == pre.rtmr2);
    CHECK(m.rtmr0 != pre.rtmr0);
    CHECK(parse_ovmf_variant("stable202505") == OvmfVariant::stable202505);
    // A pre202505 log has 13 RTMR0 events: read as stable202505 it is refused, not misread.
    const auto log = parse_dstack_event_log(lite_fixture()["event_log"].get<std::string>());
    CHECK(code_of([&] { (void)acpi_digests_from_event_log(log, OvmfVariant::stable202505); }) == Errc::malformed);
}

TEST_CASE("quote-report fixture (dstack 0.5.x, 64 GiB, QEMU 9.2.1): RTMR0 from the TD HOB layout and the log's ACPI") {
    const auto fixture = json::parse(read_text(test::real_testdata() / "eventlogs/dstack-verifier-quote-report.json"));
    const auto config = parse_vm_config(fixture.dump());
    CHECK(config.memory_size == 0x1000000000);
    CHECK(config.attestation_variant == "legacy");
    CHECK_FALSE(config.measurement_document);
    // The flag is false and QEMU is 9.2.1: single-pass either way.
    CHECK(config.page_order() == PageOrder::single_pass);
    const auto log = parse_dstack_event_log(fixture["event_log"].get<std::string>());
    BootDigests digests;
    // The image is not available; its firmware has the same TD_HOB/TEMP_MEM layout as 0.6.0's.
    digests.td_hob = sha384(build_td_hob(decode_td_hob_witness(from_hex(kDstackWitness)), config.memory_size));
    digests.acpi = acpi_digests_from_event_log(log, OvmfVariant::pre202505);
    const auto m = assemble_boot_measurement(digests);
    const auto quote = parse_quote(from_hex(fixture["quote"].get<std::string>()));
    REQUIRE(quote.td_body());
    CHECK(to_hex(*m.rtmr0) == to_hex(quote.td_body()->rtmr[0]));
    CHECK(to_hex(*m.rtmr0) ==
          "2e3843265f8ecdd4e2282694747f6f2f111605c33f2a8882f5734ee6f3a6ce63d8f34aeef06093dcda76fa5f9d33d8d6");
    // Without the image only RTMR0 is predicted; diagnose names the kernel event of RTMR1.
    const auto d = diagnose_boot(m, *quote.td_body(), &log);
    CHECK(d.registers[1].equal);
    REQUIRE(d.registers[2].event_position);
    CHECK(*d.registers[2].event_position == 0);
    CHECK(d.registers[2].expected_event->kind == BootEventKind::kernel);
    CHECK(to_hex(mr_aggregated(*quote.td_body())) ==
          "233c659f83048505bb1ef7f105245aa80f5d04e3d096c329da272d7ee13fbf38");
    CHECK(code_of([&] { (void)boot_digests_from_vm_config(config, digests.acpi); }) == Errc::unsupported);
}

namespace {

// A firmware image with one field of the synthetic image's TDVF structures changed.
Bytes firmware_with(std::size_t at, std::uint64_t value, std::size_t size) {
    auto fw = synthetic_firmware();
    for (std::size_t i = 0; i < size; ++i) fw[at + i] = static_cast<std::uint8_t>(value >> (8U * i));
    return fw;
}

constexpr std::size_t kDescriptor = 0x3F010;
constexpr std::size_t kSection0 = kDescriptor + 16;
std::size_t section_field(std::size_t index, std::size_t offset) { return kSection0 + 32 * index + offset; }

std::string firmware_error(const Bytes& fw) {
    return error_of([&] { (void)parse_tdvf(fw); });
}

json lite_document_json() {
    const auto config = parse_vm_config(lite_fixture().dump());
    return json::from_cbor(*config.measurement_document);
}

std::string document_error(const json& doc) {
    const auto cbor = json::to_cbor(doc);
    return error_of([&] { (void)parse_lite_measurement_document(cbor); });
}

}  // namespace

TEST_CASE("Firmware: every GUIDed table, descriptor and section check has its refusal") {
    CHECK(firmware_error(firmware_with(0x3FFCE, 10, 2)).find("GUIDed table length") != std::string::npos);
    CHECK(firmware_error(firmware_with(0x3FFBC, 0x200, 2)).find("has length 512") != std::string::npos);
    CHECK(firmware_error(firmware_with(0x3FFA6, 20, 2)).find("no 4-byte offset") != std::string::npos);
    CHECK(firmware_error(firmware_with(0x3FFA2, 8, 4)).find("outside") != std::string::npos);  // below 16
    CHECK(firmware_error(firmware_with(kDescriptor + 12, 0, 4)).find("0 sections") != std::string::npos);
    CHECK(firmware_error(Bytes(kMaxFirmwareSize + 1)).find("MiB limit") != std::string::npos);
    // Per section: alignment, sizes, overflow, data inside the file.
    CHECK(firmware_error(firmware_with(section_field(2, 16), 0x6800, 8)).find("multiple of 4 KiB") !=
          std::string::npos);
    CHECK(firmware_error(firmware_with(section_field(1, 16), 0x1000, 8)).find("smaller than its raw size") !=
          std::string::npos);
    CHECK(firmware_error(firmware_with(section_field(2, 8), 0xFFFFFFFFFFFFF000, 8)).find("overflows") !=
          std::string::npos);
    // CFV (PAGE.ADD only): its raw data must still be inside the file.
    CHECK(firmware_error(firmware_with(section_field(1, 0), 0x30000, 4)).find("section 1 (CFV)") != std::string::npos);
    // MR_EXTEND reads memory_data_size bytes: raw inside the file, memory beyond it.
    auto extend = firmware_with(section_field(0, 16), 0x40000, 8);
    CHECK(firmware_error(extend).find("measured (MR_EXTEND)") != std::string::npos);
    // data_offset + memory_data_size wrapping 64 bits is refused, not read (found by review under ASan).
    auto wrap = firmware_with(section_field(0, 4), 0, 4);
    for (std::size_t i = 0; i < 8; ++i) wrap[section_field(0, 16) + i] = i == 0 ? 0x00 : i == 1 ? 0xF0 : 0xFF;
    CHECK(code_of([&] { (void)parse_tdvf(wrap); }) == Errc::malformed);
    // The guest memory cap keeps MRTD's cost bounded.
    CHECK(firmware_error(firmware_with(section_field(2, 16), 0x20000000, 8)).find("256 MiB") != std::string::npos);
    // TD_HOB sections: exactly one.
    CHECK(error_of([] {
              (void)td_hob_layout(parse_tdvf(firmware_with(section_field(3, 24), 3, 4)));
          }).find("0 TD_HOB sections") != std::string::npos);
    CHECK(error_of([] {
              (void)td_hob_layout(parse_tdvf(firmware_with(section_field(4, 24), 2, 4)));
          }).find("2 TD_HOB sections") != std::string::npos);
    // compute_mrtd re-checks metadata it is handed (a caller may build it by hand).
    const auto fw = synthetic_firmware();
    auto meta = parse_tdvf(fw);
    meta.sections[0].memory_data_size = 0xFFFFFFFFFFFFF000;
    CHECK(code_of([&] { (void)compute_mrtd(fw, meta, PageOrder::single_pass); }) == Errc::invalid_argument);
    meta = parse_tdvf(fw);
    meta.sections[2].memory_data_size = 0x100000000000;  // PAGE.ADD only, 2^32 pages
    CHECK(code_of([&] { (void)compute_mrtd(fw, meta, PageOrder::single_pass); }) == Errc::invalid_argument);
}

TEST_CASE("TD HOB: witness counts, overflowing pages and memory at the top of the accepted ranges") {
    CHECK(error_of([] { (void)decode_td_hob_witness(from_hex("801009")); }).find("truncated") != std::string::npos);
    CHECK(error_of([] { (void)decode_td_hob_witness(from_hex("80100900")); }).find("0 ranges") != std::string::npos);
    CHECK(error_of([] { (void)decode_td_hob_witness(from_hex("801009810200060002")); }).find("257 ranges") !=
          std::string::npos);
    CHECK(error_of([] { (void)decode_td_hob_witness(from_hex("8010090500060002")); }).find("5 ranges") !=
          std::string::npos);
    // 2^52 pages is 2^64 bytes.
    CHECK(error_of([] { (void)decode_td_hob_witness(from_hex("000001008080808080808080800100")); }).find("overflows") !=
          std::string::npos);
    const auto layout = decode_td_hob_witness(from_hex(kDstackWitness));
    CHECK(code_of([&] { (void)build_td_hob(layout, 0x820000); }) == Errc::invalid_argument);  // = top
    CHECK_NOTHROW((void)build_td_hob(layout, 0x821000));
    CHECK(code_of([&] { (void)build_td_hob(layout, 0); }) == Errc::invalid_argument);
}

TEST_CASE("Kernel: an initrd for a pre-2.00 kernel, and memory too small for one") {
    CHECK(code_of([] { (void)patch_kernel_setup_header(setup_header(0x1FF, 0, 0), 0x1000, 0x80000000); }) ==
          Errc::unsupported);
    CHECK_NOTHROW((void)patch_kernel_setup_header(setup_header(0x1FF, 0, 0), 0, 0x80000000));
    CHECK(code_of([] { (void)patch_kernel_setup_header(setup_header(0x20C, 1, 0x40), 0x1000, 0x28000); }) ==
          Errc::invalid_argument);
    // Protocol 2.03-2.0B: initrd_addr_max at 0x22C bounds the address (0 means QEMU's default).
    auto k = setup_header(0x20A, 1, 0);
    k[0x22C] = 0xFF, k[0x22D] = 0xFF, k[0x22E] = 0xFF, k[0x22F] = 0x0F;  // 0x0FFFFFFF
    CHECK(u32_at(patch_kernel_setup_header(k, 0x100000, 0x80000000), 0x218) == 0x0FEFF000);
    k[0x22C] = k[0x22D] = k[0x22E] = k[0x22F] = 0;
    CHECK(u32_at(patch_kernel_setup_header(k, 0x100000, 0x80000000), 0x218) == 0x37EFF000);
    // Loaded low (no LOADED_HIGH): the command line goes to 0x9A000 and the heap end is 0x9E00.
    const auto low = patch_kernel_setup_header(setup_header(0x20C, 0, 0x40), 0, 0x80000000);
    CHECK(u32_at(low, 0x228) == 0x9A000);
    CHECK(u32_at(low, 0x224) == 0x9E00);
}

TEST_CASE("Lite document: wrong CBOR types, lengths and keys are refused, naming the key") {
    auto doc = lite_document_json();
    CHECK(document_error(doc) == "no error");
    auto text_instead = doc;
    text_instead["image"]["initrd_sha384"] = std::string(48, 'a');
    CHECK(document_error(text_instead).find("image.initrd_sha384") != std::string::npos);
    auto short_digest = doc;
    short_digest["tdvf"]["mrtd"]["two_pass"] = json::binary(std::vector<std::uint8_t>(47, 1));
    CHECK(document_error(short_digest).find("48 bytes") != std::string::npos);
    auto missing = doc;
    missing["image"].erase("kernel_authenticode");
    CHECK(document_error(missing).find("kernel_authenticode") != std::string::npos);
    auto witness = doc;
    witness["tdvf"]["td_hob"] = "80100904";
    CHECK(document_error(witness).find("td_hob") != std::string::npos);
    auto variant = doc;
    variant["tdvf"]["ovmf"] = "stable202408";
    CHECK(code_of([&] { (void)parse_lite_measurement_document(json::to_cbor(variant)); }) == Errc::malformed);
    // {1: 3}: a map key that is not text.
    CHECK(code_of([] { (void)parse_lite_measurement_document(from_hex("a10103")); }) == Errc::malformed);
}

TEST_CASE("sha256sum.txt and vm_config: each malformed form dstack would refuse") {
    const auto fixture = lite_fixture();
    const auto config = parse_vm_config(fixture.dump());
    const auto& document = *config.measurement_document;
    const auto digest = to_hex(sha256(document));
    const auto binding_error = [&](const std::string& checksums) {
        return error_of([&] {
            const auto bytes = as_bytes(checksums);
            Octets<32> hash = sha256(bytes);
            verify_lite_measurement_binding(bytes, document, hash);
        });
    };
    CHECK(binding_error(digest + "  measurement.tdx.cbor\n") == "no error");
    CHECK(
        binding_error(digest + "  measurement.tdx.cbor\n" + digest + "  measurement.tdx.cbor\n").find("second entry") !=
        std::string::npos);
    CHECK(binding_error(digest + "  other.file\n").find("no line for measurement.tdx.cbor") != std::string::npos);
    CHECK(binding_error(digest.substr(0, 62) + "  measurement.tdx.cbor\n").find("not 32") != std::string::npos);
    CHECK(binding_error(digest + "\n").find("without a file name") != std::string::npos);
    CHECK(binding_error(digest + "  *measurement.tdx.cbor\n").find("no line") != std::string::npos);

    const auto edited = [&](const std::function<void(json&)>& edit) {
        auto doc = fixture;
        auto vm = json::parse(doc["vm_config"].get<std::string>());
        edit(vm);
        doc["vm_config"] = vm.dump();
        return doc.dump();
    };
    CHECK(error_of([&] {
              (void)parse_vm_config(edited([](json& c) { c["memory_size"] = 0; }));
          }).find("vm_config.memory_size") != std::string::npos);
    CHECK(error_of([&] {
              (void)parse_vm_config(edited([](json& c) { c["memory_size"] = 0xB0000001ULL; }));
          }).find("multiple of 4096") != std::string::npos);
    CHECK(error_of([&] {
              (void)parse_vm_config(edited([](json& c) { c["tdx_attestation_variant"] = "full"; }));
          }).find("tdx_attestation_variant") != std::string::npos);
    CHECK(code_of([&] { (void)parse_vm_config(edited([](json& c) { c["qemu_version"] = "8.2.2+ds"; })); }) ==
          Errc::malformed);
    CHECK(code_of([&] { (void)parse_vm_config(edited([](json& c) { c["ovmf_variant"] = "latest"; })); }) ==
          Errc::malformed);
    const auto other_variant = parse_vm_config(edited([](json& c) { c["ovmf_variant"] = "stable202505"; }));
    CHECK(error_of([&] {
              (void)boot_digests_from_vm_config(other_variant, std::nullopt);
          }).find("ovmf_variant differs") != std::string::npos);
}

TEST_CASE("ACPI digests from a log: a relabelled event refuses, a lite attestation's three events are read") {
    const auto fixture = lite_fixture();
    auto log = parse_dstack_event_log(fixture["event_log"].get<std::string>());
    const auto expected = acpi_digests_from_event_log(log, OvmfVariant::pre202505);
    std::vector<Event*> rtmr0;
    for (auto& e : log.events) {
        if (e.imr == 0) rtmr0.push_back(&e);
    }
    auto relabelled = log;
    for (auto& e : relabelled.events) {
        if (e.imr == 0 && e.digest == expected.rsdp) e.event_type = 1;
    }
    CHECK(error_of([&] {
              (void)acpi_digests_from_event_log(relabelled, OvmfVariant::pre202505);
          }).find("not an ACPI DATA event") != std::string::npos);
    EventLog lite;
    for (const auto& e : log.events) {
        if (e.imr == 0 && e.event_type == 0xA) lite.events.push_back(e);
    }
    REQUIRE(lite.events.size() == 3);
    const auto read = acpi_digests_from_event_log(lite, OvmfVariant::pre202505);
    CHECK(read.loader == expected.loader);
    CHECK(read.tables == expected.tables);
}
