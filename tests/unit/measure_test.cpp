// Compose hashes against MANIFEST.json and the real quotes, and --normalize against the dstack SDK
// (tests/compose/expected.json, produced by tests/compose/generate.js with @phala/dstack-sdk).

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/measure.hpp"
#include "tdxkit/quote.hpp"

using namespace tdxkit;
using nlohmann::json;
using tdxkit::test::read_file;
using tdxkit::test::read_text;

TEST_CASE("keccak256: known vectors (not SHA3-256)") {
    CHECK(to_hex(keccak256({})) == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    CHECK(to_hex(keccak256(as_bytes("abc"))) == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    // Two blocks: 200 bytes crosses the 136-byte rate.
    const std::string long_input(200, 'a');
    CHECK(to_hex(keccak256(as_bytes(long_input))) != to_hex(keccak256(as_bytes(long_input.substr(0, 199)))));
}

TEST_CASE("compose files hash to MANIFEST values, their quotes' compose-hash events and MRCONFIGID") {
    const auto dir = test::real_testdata();
    const auto manifest = json::parse(read_text(dir / "MANIFEST.json"));
    std::size_t bound = 0;
    for (const auto& entry : manifest["compose"]) {
        const std::string file = entry["file"];
        CAPTURE(file);
        const auto m = measure_compose(read_file(dir / file));
        CHECK(to_hex(m.compose_hash) == entry["sha256_of_file_bytes (= dstack compose hash)"].get<std::string>());
        if (!entry.contains("quote")) continue;
        CHECK(to_hex(m.compose_hash) == entry["rtmr3_compose_hash_event_payload"].get<std::string>());
        CHECK(to_hex(m.app_id) == entry["rtmr3_app_id_event_payload"].get<std::string>());
        const auto quote = parse_quote(read_file(dir / entry["quote"].get<std::string>()));
        CHECK(m.mr_config_version == 1);
        CHECK(m.mr_config_id == quote.td_body()->mr_config_id);
        // The compose-hash event of the tcb_info's log carries the digest measure-compose predicts.
        const auto log = parse_event_log(read_file(dir / entry["tcb_info"].get<std::string>()));
        std::size_t found = 0;
        for (const auto& e : log.events) {
            if (e.name == "compose-hash") {
                CHECK(e.digest == m.compose_event_digest);
                ++found;
            }
        }
        CHECK(found == 1);
        ++bound;
    }
    CHECK(bound == 2);
}

TEST_CASE("MRCONFIGID V2 follows dstack's keccak256 layout") {
    Octets<32> hash{};
    hash.fill(0x11);
    Octets<20> app{};
    app.fill(0x22);
    const auto id = from_hex("abcd");
    // Built byte by byte: GCC 12 -O2 misreads range inserts into a fresh vector (-Warray-bounds).
    Bytes preimage;
    for (const auto b : hash) preimage.push_back(b);
    for (const auto b : app) preimage.push_back(b);
    preimage.push_back(2);
    for (const auto b : id) preimage.push_back(b);
    const auto v2 = mr_config_id_v2(hash, app, KeyProviderKind::kms, id);
    CHECK(v2[0] == 2);
    const auto digest = keccak256(preimage);
    CHECK(std::equal(digest.begin(), digest.end(), v2.begin() + 1));
    CHECK(all_zero(ByteSpan(v2).subspan(33)));

    // A file with a key_provider_id selects V2, as dstack's VMM does.
    const auto m = measure_compose(as_bytes(R"({"kms_enabled":true,"key_provider_id":"abcd"})"));
    CHECK(m.mr_config_version == 2);
    CHECK(m.key_provider == KeyProviderKind::kms);
    CHECK(m.mr_config_id == mr_config_id_v2(m.compose_hash, m.app_id, KeyProviderKind::kms, id));
}

TEST_CASE("--normalize agrees with @phala/dstack-sdk on the adversarial corpus") {
    const auto dir = test::source_dir() / "tests/compose";
    const auto expected = json::parse(read_text(dir / "expected.json"));
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "corpus")) {
        const auto name = entry.path().filename().string();
        CAPTURE(name);
        REQUIRE(expected["hashes"].contains(name));
        const auto text = read_text(entry.path());
        CHECK(to_hex(sha256(as_bytes(normalize_app_compose(text)))) ==
              expected["hashes"][name]["canonical"].get<std::string>());
        CHECK(to_hex(sha256(as_bytes(normalize_app_compose(text, true)))) ==
              expected["hashes"][name]["preprocessed"].get<std::string>());
        ++files;
    }
    CHECK(files >= 30);
    CHECK(files == expected["hashes"].size());
}

TEST_CASE("canonical form details") {
    CHECK(normalize_app_compose(R"({"b":1,"a":[{"d":1.50,"c":1e21}],"10":0,"9":"\/é"})") ==
          R"({"9":"/é","10":0,"a":[{"c":1e+21,"d":1.5}],"b":1})");
    CHECK_THROWS_AS((void)normalize_app_compose("{"), Error);
    CHECK(check_app_compose(R"({"manifest_version":2,"runner":"docker-compose","docker_compose_file":""})").empty());
    const auto warnings = check_app_compose(R"({"runner":"podman","runner":"x"})");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("duplicate key") != std::string::npos);
    CHECK(check_app_compose(R"({"manifest_version":2,"runner":"podman"})")[0].find("unknown runner") !=
          std::string::npos);
    CHECK(check_app_compose(R"({"manifest_version":2,"runner":"docker-compose"})")[0].find("docker_compose_file") !=
          std::string::npos);
}
