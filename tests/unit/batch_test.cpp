// verify_batch: streaming, in-order results, one bad line never stops the batch (tdxkit/batch.hpp).

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/batch.hpp"
#include "tdxkit/report.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;
using nlohmann::json;

namespace {

struct Fleet {
    test::TempDir dir{"batch"};
    testing::ScenarioOutput out = testing::Scenario().build();
    BatchOptions options;

    Fleet() {
        testing::write_collateral(out.collateral, dir.path() / "collateral");
        options.now = out.now;
        options.trust_root = custom_trust_root(out.root_der);
        options.collateral.path = (dir.path() / "collateral").string();
    }

    std::vector<json> run(const std::string& input, BatchSummary& summary) const {
        std::istringstream in(input);
        std::vector<json> lines;
        summary = verify_batch(
            in, [&](std::string_view line) { lines.push_back(json::parse(line)); }, options);
        return lines;
    }
};

std::string line(const std::string& id, const std::string& quote_hex) {
    return R"({"id":")" + id + R"(","quote":")" + quote_hex + "\"}";
}

}  // namespace

TEST_CASE("results come out in input order, whatever the window and the number of workers") {
    Fleet fleet;
    const auto quote = to_hex(fleet.out.quote);
    auto tampered = quote;
    tampered[200] = tampered[200] == '0' ? '1' : '0';
    std::string input;
    for (int i = 0; i < 40; ++i)
        input += line(std::to_string(i), i % 7 == 3 ? tampered : quote) + (i % 2 ? "\r\n" : "\n");
    for (const auto& [jobs, window] : std::vector<std::pair<unsigned, std::size_t>>{{1, 1}, {2, 1}, {2, 3}, {3, 64}}) {
        CAPTURE(jobs);
        CAPTURE(window);
        Fleet f;
        f.options.jobs = jobs;
        f.options.window = window;
        f.options.output = BatchOutput::summary;
        BatchSummary summary;
        const auto lines = f.run(input, summary);
        REQUIRE(lines.size() == 40);
        for (int i = 0; i < 40; ++i) {
            CHECK(lines[static_cast<std::size_t>(i)]["id"] == std::to_string(i));
            CHECK(lines[static_cast<std::size_t>(i)]["result"] == (i % 7 == 3 ? "rejected" : "ok"));
        }
        CHECK(summary.lines == 40);
        CHECK(summary.accepted == 34);
        CHECK(summary.rejected == 6);
        CHECK(summary.errors == 0);
    }
}

TEST_CASE("bad lines get an error result and the batch goes on; blank lines are skipped") {
    Fleet fleet;
    fleet.options.max_line = 16 * 1024;
    const auto quote = to_hex(fleet.out.quote);
    BatchSummary summary;
    const auto lines = fleet.run(line("a", quote) + "\n\n   \nnot json\n" + std::string(20000, 'x') + "\n" +
                                     R"({"id":"b","quote":"00"})" + "\n" + line("c", quote),  // no final newline
                                 summary);
    REQUIRE(lines.size() == 5);
    CHECK(lines[0]["result"] == "ok");
    CHECK(lines[0]["schema"] == "tdxkit.verify/v1");
    CHECK(lines[1]["result"] == "error");
    CHECK(lines[1]["error"]["code"] == "malformed");
    CHECK(lines[1]["id"] == nullptr);
    CHECK(lines[2]["reason"] == "batch line is longer than 16384 bytes");
    CHECK(lines[3]["id"] == "b");
    CHECK(lines[3]["error"]["code"] == "malformed");
    CHECK(lines[4]["id"] == "c");
    CHECK(lines[4]["result"] == "ok");
    CHECK(summary.lines == 5);
    CHECK(summary.errors == 3);
}

TEST_CASE("unavailable collateral is an error result for each line, fetched once") {
    Fleet fleet;
    fleet.options.collateral.path = (fleet.dir.path() / "missing").string();
    BatchSummary summary;
    const auto lines =
        fleet.run(line("a", to_hex(fleet.out.quote)) + "\n" + line("b", to_hex(fleet.out.quote)), summary);
    REQUIRE(lines.size() == 2);
    for (const auto& l : lines) CHECK(l["error"]["code"] == "collateral_unavailable");
    CHECK(summary.errors == 2);
}

namespace {

// Input that gives line i only once i results have been written: a client that waits for each
// answer before it sends the next line. Without streaming, verify_batch would wait for input that
// never comes; the timeout turns that into missing lines instead of a hang.
class LockstepInput : public std::streambuf {
public:
    LockstepInput(std::vector<std::string> lines, std::mutex& mutex, std::condition_variable& cv,
                  const std::size_t& results)
        : lines_(std::move(lines)), mutex_(mutex), cv_(cv), results_(results) {}

protected:
    int_type underflow() override {
        if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
        if (next_ == lines_.size()) return traits_type::eof();
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return results_ >= next_; })) return traits_type::eof();
        current_ = lines_[next_++];
        setg(current_.data(), current_.data(), current_.data() + current_.size());
        return traits_type::to_int_type(*gptr());
    }

private:
    std::vector<std::string> lines_;
    std::mutex& mutex_;
    std::condition_variable& cv_;
    const std::size_t& results_;
    std::size_t next_ = 0;
    std::string current_;
};

}  // namespace

TEST_CASE("streaming: each result is written before the next line arrives") {
    Fleet fleet;
    fleet.options.output = BatchOutput::summary;
    std::vector<std::string> lines;
    for (int i = 0; i < 5; ++i) lines.push_back(line(std::to_string(i), to_hex(fleet.out.quote)) + "\n");
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t results = 0;
    LockstepInput input(lines, mutex, cv, results);
    std::istream in(&input);
    std::vector<std::string> ids;
    const auto summary = verify_batch(
        in,
        [&](std::string_view out) {
            ids.push_back(json::parse(out)["id"].get<std::string>());
            const std::lock_guard lock(mutex);
            ++results;
            cv.notify_all();
        },
        fleet.options);
    CHECK(ids == std::vector<std::string>{"0", "1", "2", "3", "4"});
    CHECK(summary.accepted == 5);
}

TEST_CASE("result renderers take only a JSON scalar as the id: it is inserted as written") {
    const VerificationOutcome outcome{};
    const auto root = intel_sgx_root_ca();
    CHECK(json::parse(render_verify_summary(outcome, R"("a\"b")"))["id"] == "a\"b");
    CHECK(json::parse(render_verify_summary(outcome, ""))["id"].is_null());
    for (const std::string bad : {"abc", R"({"x":1})", "[1]", R"("a"} , {"b")"}) {
        CAPTURE(bad);
        CHECK(test::code_of([&] { (void)render_verify_summary(outcome, bad); }) == Errc::invalid_argument);
        CHECK(test::code_of([&] { (void)render_verify_json(outcome, root, -1, bad); }) == Errc::invalid_argument);
    }
}
