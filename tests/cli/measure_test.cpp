// `tdxkit measure` through the real binary: the tdx-lite fixture (its quote's registers), the synthetic
// image (values of the independent model, testdata/measure/synthetic/expected.json), --diagnose, the
// policy it writes, and each documented refusal with its exit code.

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;
using tdxkit::test::TempDir;

namespace {

std::string lite_fixture() {
    return (tdxkit::test::real_testdata() / "eventlogs/dstack-verifier-tdx-lite-getquote.json").string();
}

std::string synthetic(const std::string& name = "") {
    return (tdxkit::test::source_dir() / "testdata/measure/synthetic" / name).string();
}

json expected_case(const std::string& name) {
    const auto doc = json::parse(tdxkit::test::read_text(synthetic("expected.json")));
    for (const auto& c : doc["cases"]) {
        if (c["name"] == name) return c;
    }
    FAIL("no case " << name);
    return {};
}

std::vector<std::string> acpi_files() {
    return {"--acpi-tables",        synthetic("acpi/tables"), "--acpi-rsdp",
            synthetic("acpi/rsdp"), "--acpi-loader",          synthetic("acpi/table-loader")};
}

std::vector<std::string> args(std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
}

// The fixture with its vm_config changed by `edit`, written to `dir`.
std::string edited_fixture(const TempDir& dir, const std::function<void(json&)>& edit) {
    auto doc = json::parse(tdxkit::test::read_text(lite_fixture()));
    auto config = json::parse(doc["vm_config"].get<std::string>());
    edit(config);
    doc["vm_config"] = config.dump();
    return dir.write("edited.json", doc.dump());
}

}  // namespace

TEST_CASE("--vm-config: the tdx-lite GetQuote response predicts its own quote; --diagnose says equal") {
    const auto r = run_tdxkit({"--json", "measure", "--vm-config", lite_fixture(), "--diagnose", lite_fixture()});
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["schema"] == "tdxkit.measure/v1");
    CHECK(j["result"] == "equal");
    const auto quote = json::parse(run_tdxkit({"--json", "quote", "decode", lite_fixture()}).out);
    const auto& body = quote["body"];
    CHECK(j["mrtd"] == body["mr_td"]);
    CHECK(j["rtmr0"] == body["rtmr0"]);
    CHECK(j["rtmr1"] == body["rtmr1"]);
    CHECK(j["rtmr2"] == body["rtmr2"]);
    CHECK(j["mrtd"] ==
          "fd685522ce791dfef67414614eb07d03fc07a32c5a66f36288b329dab92b724b1564c73d436ffb9ea84488c51ac5a1c5");
    CHECK(j["os_image_hash"] == "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db");
    CHECK(j["input"]["page_order"] == "two_pass");
    CHECK(j["acpi"]["acpi_tables_verified"] == false);
    CHECK(j["events"].size() == 20);
    CHECK(j["diagnosis"]["equal"] == true);
    CHECK(j["diagnosis"]["mr_aggregated"] == "c758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee");
    CHECK(j["diagnosis"]["mr_system"] == "118f754a080ecb8527df65656ee4e7e97b891cf488ad6a38886ff0dbca0c8f70");
    // The ACPI digests are the log's own: said on stderr, every time.
    CHECK(r.err.find("acpi_tables_verified: false") != std::string::npos);
}

TEST_CASE("--diagnose names the first differing event and its likely input") {
    const TempDir dir("measure-diagnose");
    SUBCASE("memory size: the TD HOB") {
        const auto edited = edited_fixture(dir, [](json& c) { c["memory_size"] = 4294967296ULL; });
        const auto r = run_tdxkit({"--json", "measure", "--vm-config", edited, "--diagnose", lite_fixture()});
        CHECK(r.exit_code == 1);
        const auto j = json::parse(r.out);
        CHECK(j["result"] == "different");
        const auto& reg = j["diagnosis"]["registers"];
        CHECK(reg[0]["equal"] == true);   // MRTD
        CHECK(reg[1]["equal"] == false);  // RTMR0
        CHECK(reg[1]["first_differing_event"]["position"] == 0);
        CHECK(reg[1]["first_differing_event"]["kind"] == "td_hob");
        CHECK(reg[1]["cause"].get<std::string>().find("memory size") != std::string::npos);
        CHECK(reg[2]["equal"] == true);  // RTMR1: the lite kernel digest holds for 2 GiB and 4 GiB alike
        const auto text = run_tdxkit({"measure", "--vm-config", edited, "--diagnose", lite_fixture()});
        CHECK(text.exit_code == 1);
        CHECK(text.out.find("DIFFERENT") != std::string::npos);
        CHECK(text.out.find("first differing event: #0 TD HOB") != std::string::npos);
    }
    SUBCASE("OVMF variant: the TD's log has another RTMR0 layout") {
        const auto r = run_tdxkit(args({"--json", "measure", "--image", synthetic(), "--memory", "2G", "--ovmf-variant",
                                        "stable202505", "--diagnose", lite_fixture()},
                                       acpi_files()));
        CHECK(r.exit_code == 1);
        const auto j = json::parse(r.out);
        const auto& rtmr0 = j["diagnosis"]["registers"][1];
        CHECK(rtmr0["first_differing_event"]["position"] == 2);
        CHECK(rtmr0["cause"].get<std::string>().find("try --ovmf-variant pre202505") != std::string::npos);
    }
    SUBCASE("QEMU version: the page order of MRTD") {
        const auto edited = edited_fixture(dir, [](json& c) { c["qemu_version"] = "9.2.1"; });
        const auto r = run_tdxkit({"--json", "measure", "--vm-config", edited, "--diagnose", lite_fixture()});
        CHECK(r.exit_code == 1);
        const auto j = json::parse(r.out);
        CHECK(j["diagnosis"]["registers"][0]["equal"] == false);
        CHECK(j["diagnosis"]["registers"][0]["cause"].get<std::string>().find("page order") != std::string::npos);
    }
    SUBCASE("an image that is not the TD's: every register and the kernel event") {
        const auto r = run_tdxkit(
            args({"--json", "measure", "--image", synthetic(), "--memory", "2G", "--diagnose", lite_fixture()}, {}));
        CHECK(r.exit_code == 1);
        const auto j = json::parse(r.out);
        // RTMR0 uses the TD's own ACPI digests and the same HOB layout: only CFV-independent parts differ.
        CHECK(j["acpi"]["from_diagnosed_td"] == true);
        const auto& r1 = j["diagnosis"]["registers"][2];
        CHECK(r1["first_differing_event"]["kind"] == "kernel");
        CHECK(j["diagnosis"]["registers"][3]["first_differing_event"]["kind"] == "cmdline");
    }
}

TEST_CASE("--image: every register equals the independent model's, for 2, 4 and 16 GiB and both page orders") {
    for (const auto* name : {"2G-single", "2G-two", "4G-single", "16G-two"}) {
        CAPTURE(name);
        const auto c = expected_case(name);
        const std::string memory = std::string(name).substr(0, std::string(name).find('-'));
        const auto order = std::string(name).ends_with("two") ? "two" : "single";
        const auto r = run_tdxkit(args(
            {"--json", "measure", "--image", synthetic(), "--memory", memory, "--page-order", order}, acpi_files()));
        REQUIRE(r.exit_code == 0);
        const auto j = json::parse(r.out);
        CHECK(j["mrtd"] == c["mrtd"]);
        CHECK(j["rtmr0"] == c["rtmr0"]);
        CHECK(j["rtmr1"] == c["rtmr1"]);
        CHECK(j["rtmr2"] == c["rtmr2"]);
        CHECK(j["acpi"]["acpi_tables_verified"] == true);
        CHECK(j["input"]["memory_size"] == c["memory_size"]);
    }
    // The same through --firmware/--kernel/--initrd/--cmdline and --qemu-version 8.2.2 (two-pass).
    const auto metadata = json::parse(tdxkit::test::read_text(synthetic("metadata.json")));
    const auto c = expected_case("4G-two");
    const auto r =
        run_tdxkit(args({"--json", "measure", "--firmware", synthetic("firmware.fd"), "--kernel", synthetic("bzImage"),
                         "--initrd", synthetic("initrd"), "--cmdline", metadata["cmdline"].get<std::string>(),
                         "--memory", "4096M", "--qemu-version", "8.2.2"},
                        acpi_files()));
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["mrtd"] == c["mrtd"]);
    CHECK(j["rtmr0"] == c["rtmr0"]);
    CHECK(j["rtmr1"] == c["rtmr1"]);
    CHECK(j["os_image_hash"] == nullptr);
}

TEST_CASE("--policy-out pins MRTD and RTMR0-2 (and the OS image hash); --merge-policy keeps the other rules") {
    const TempDir dir("measure-policy");
    const auto compose_policy = dir.path() / "compose.json";
    const auto compose =
        run_tdxkit({"measure-compose", "--policy-out", compose_policy.string(),
                    (tdxkit::test::real_testdata() / "compose/nearmpc-head-app_compose.json").string()});
    REQUIRE(compose.exit_code == 0);
    const auto policy = dir.path() / "policy.json";
    const auto r = run_tdxkit(args({"--json", "measure", "--image", synthetic(), "--memory", "2G", "--policy-out",
                                    policy.string(), "--merge-policy", compose_policy.string()},
                                   acpi_files()));
    REQUIRE(r.exit_code == 0);
    const auto c = expected_case("2G-single");
    const auto p = json::parse(tdxkit::test::read_text(policy));
    CHECK(p["td"]["mrtd"] == json::array({c["mrtd"]}));
    CHECK(p["td"]["rtmr0"] == json::array({c["rtmr0"]}));
    CHECK(p["td"]["rtmr1"] == json::array({c["rtmr1"]}));
    CHECK(p["td"]["rtmr2"] == json::array({c["rtmr2"]}));
    CHECK(p["td"].contains("mrconfigid"));  // from measure-compose
    CHECK(p["dstack"]["compose_hashes"].size() == 1);
    const auto expected_hashes = json::parse(tdxkit::test::read_text(synthetic("expected.json")))["os_image_hash"];
    CHECK(p["dstack"]["os_image_hashes"] == json::array({expected_hashes}));
    CHECK(json::parse(r.out)["policy"] == p);
    // Merging a second image extends each register's any-of list, and says so.
    const auto again = run_tdxkit(args({"measure", "--image", synthetic(), "--memory", "4G", "--policy-out",
                                        policy.string(), "--merge-policy", policy.string()},
                                       acpi_files()));
    REQUIRE(again.exit_code == 0);
    CHECK(again.err.find("td.rtmr0 already pinned other values; it now accepts 2") != std::string::npos);
    const auto merged = json::parse(tdxkit::test::read_text(policy));
    CHECK(merged["td"]["rtmr0"].size() == 2);
    CHECK(merged["td"]["mrtd"].size() == 1);  // the same firmware and page order
}

TEST_CASE("refusals: usage (2), malformed input (3) and I/O (5), each with its reason") {
    const TempDir dir("measure-errors");
    const auto fw = tdxkit::test::read_file(synthetic("firmware.fd"));
    struct Case {
        std::vector<std::string> argv;
        int exit_code;
        std::string reason;
    };
    const std::string truncated = dir.write("truncated.fd", std::string(fw.begin(), fw.begin() + 0x20000));
    auto bad_guid = fw;
    bad_guid[0x3FFD0] ^= 1;
    const std::string bad_footer = dir.write("badguid.fd", std::string(bad_guid.begin(), bad_guid.end()));
    auto outside = fw;
    outside[0x3F022] = 0x03;  // BFV data offset 0x30000: its 0x20000 bytes end past the file
    const std::string out_of_file = dir.write("outside.fd", std::string(outside.begin(), outside.end()));
    auto kernel = tdxkit::test::read_file(synthetic("bzImage"));
    kernel[0x46] = 0xFF;  // NumberOfSections 0xFFFF
    kernel[0x47] = 0xFF;
    const std::string bad_pe = dir.write("bad.bzImage", std::string(kernel.begin(), kernel.end()));
    const auto files = [&](const std::string& firmware, const std::string& k) {
        return std::vector<std::string>{"measure",           "--firmware", firmware,        "--kernel", k,   "--initrd",
                                        synthetic("initrd"), "--cmdline",  "console=ttyS0", "--memory", "2G"};
    };
    const std::vector<Case> cases = {
        {files(truncated, synthetic("bzImage")), 3, "footer GUID"},
        {files(bad_footer, synthetic("bzImage")), 3, "footer GUID"},
        {files(out_of_file, synthetic("bzImage")), 3, "section 0 (BFV)"},
        {files(synthetic("firmware.fd"), bad_pe), 3, "section table"},
        {files(synthetic("firmware.fd"), dir.path().string() + "/missing"), 5, "cannot read"},
        {{"measure", "--vm-config",
          edited_fixture(dir, [](json& c) { c["memory_size"] = 3221225472ULL - 805306368ULL; })},
         3,
         "2048 MiB"},
        {{"measure", "--image", synthetic(), "--memory", "2G", "--ovmf-variant", "edk2-stable202408.01"},
         2,
         "moved the separator"},
        {{"measure", "--image", synthetic(), "--memory", "2G", "--ovmf-variant", "latest"}, 2, "never guesses"},
        {{"measure", "--image", synthetic(), "--memory", "2G", "--qemu-version", "8.2.2+ds"}, 2, "MAJOR.MINOR.PATCH"},
        {{"measure", "--image", synthetic()}, 2, "--memory is required"},
        {{"measure", "--image", synthetic(), "--memory", "2X"}, 2, "--memory"},
        {{"measure", "--image", synthetic(), "--vm-config", lite_fixture(), "--memory", "2G"}, 2, "exactly one"},
        {{"measure", "--image", synthetic(), "--memory", "2G", "--acpi-tables", synthetic("acpi/tables")},
         2,
         "go together"},
        {{"measure", "--vm-config", lite_fixture(), "--memory", "2G"}, 2, "come from the vm_config"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.reason);
        const auto r = run_tdxkit(c.argv);
        CHECK(r.exit_code == c.exit_code);
        CHECK(r.err.find(c.reason) != std::string::npos);
        CHECK(r.out.empty());
    }
    // With --json a failure is one document on stdout.
    const auto j = run_tdxkit(args({"--json"}, files(truncated, synthetic("bzImage"))));
    CHECK(j.exit_code == 3);
    const auto doc = json::parse(j.out);
    CHECK(doc["schema"] == "tdxkit.measure/v1");
    CHECK(doc["result"] == "error");
    CHECK(doc["error"]["code"] == "malformed");
}

TEST_CASE("without ACPI input RTMR0 is not predicted, and that is said") {
    const auto r = run_tdxkit({"--json", "measure", "--image", synthetic(), "--memory", "2G"});
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["rtmr0"] == nullptr);
    CHECK(j["mrtd"] == expected_case("2G-single")["mrtd"]);
    CHECK(r.err.find("RTMR0 is not predicted") != std::string::npos);
}

TEST_CASE("--diagnose: RTMR0 not predicted is NOT CONFIRMED (exit 1), never EQUAL") {
    const TempDir dir("measure-incomplete");
    const auto fixture = json::parse(tdxkit::test::read_text(lite_fixture()));
    const auto vm_config = dir.write("vm_config.json", fixture["vm_config"].get<std::string>());  // no log beside it
    const auto quote = (tdxkit::test::real_testdata() / "quotes/dstack-verifier-tdx-lite-getquote.bin").string();
    const auto r = run_tdxkit({"--json", "measure", "--vm-config", vm_config, "--diagnose", quote});
    CHECK(r.exit_code == 1);
    const auto j = json::parse(r.out);
    CHECK(j["result"] == "incomplete");
    CHECK(j["rtmr0"] == nullptr);
    CHECK(j["diagnosis"]["equal"] == false);
    const auto text = run_tdxkit({"measure", "--vm-config", vm_config, "--diagnose", quote});
    CHECK(text.exit_code == 1);
    CHECK(text.out.find("NOT CONFIRMED") != std::string::npos);
    CHECK(text.out.find("EQUAL") == std::string::npos);
    // The same bare quote with its log on standard input: read once, bound to the quote, equal.
    const auto log = fixture["event_log"].get<std::string>();
    const auto with_log =
        run_tdxkit({"--json", "measure", "--vm-config", vm_config, "--event-log", "-", "--diagnose", quote}, log);
    CHECK(with_log.exit_code == 0);
    CHECK(json::parse(with_log.out)["result"] == "equal");
}

TEST_CASE("ACPI digests are used only from a log whose RTMR0 replays to its quote") {
    const TempDir dir("measure-binding");
    auto fixture = json::parse(tdxkit::test::read_text(lite_fixture()));
    auto log = json::parse(fixture["event_log"].get<std::string>());
    // Replace the etc/acpi/tables digest (the third ACPI event of RTMR0) with another value.
    int acpi = 0;
    for (auto& e : log) {
        if (e["imr"] == 0 && e["event_type"] == 10 && ++acpi == 3) e["digest"] = std::string(96, 'a');
    }
    REQUIRE(acpi == 3);
    fixture["event_log"] = log.dump();
    const auto forged = dir.write("forged.json", fixture.dump());
    const auto r = run_tdxkit({"measure", "--vm-config", forged});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("replay to") != std::string::npos);
    CHECK(r.err.find("not the ones that TD measured") != std::string::npos);
    const auto d = run_tdxkit({"measure", "--image", synthetic(), "--memory", "2G", "--diagnose", forged});
    CHECK(d.exit_code == 3);
}

TEST_CASE("data errors are exit 3 with the member named; --memory reads a bare number as MiB") {
    const TempDir dir("measure-data-errors");
    const auto edit = [&](const std::function<void(json&)>& change) {
        auto doc = json::parse(tdxkit::test::read_text(lite_fixture()));
        auto config = json::parse(doc["vm_config"].get<std::string>());
        change(config);
        doc["vm_config"] = config.dump();
        return dir.write("edited.json", doc.dump());
    };
    const auto qemu = run_tdxkit({"measure", "--vm-config", edit([](json& c) { c["qemu_version"] = "8.2.2+ds"; })});
    CHECK(qemu.exit_code == 3);
    CHECK(qemu.err.find("vm_config.qemu_version") != std::string::npos);
    const auto memory = run_tdxkit({"measure", "--vm-config", edit([](json& c) { c["memory_size"] = 2952790017ULL; })});
    CHECK(memory.exit_code == 3);
    const auto sgx = run_tdxkit({"measure", "--image", synthetic(), "--memory", "2G", "--diagnose",
                                 (tdxkit::test::real_testdata() / "quotes/dcapqvl-sgx_quote.bin").string()});
    CHECK(sgx.exit_code == 3);
    CHECK(sgx.err.find("SGX quote") != std::string::npos);
    const auto mib = run_tdxkit({"--json", "measure", "--image", synthetic(), "--memory", "2048"});
    REQUIRE(mib.exit_code == 0);
    CHECK(json::parse(mib.out)["input"]["memory_size"] == 2147483648ULL);
    CHECK(json::parse(mib.out)["mrtd"] == expected_case("2G-single")["mrtd"]);
}
