// write_file_atomically: output files (--out, --policy-out, --write-normalized, cache entries) never
// follow a planted symlink and never leave a half-written file.

#include <doctest/doctest.h>

#include <filesystem>

#include <sys/stat.h>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/file.hpp"

using namespace tdxkit;
namespace fs = std::filesystem;

namespace {
std::size_t entries(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}
}  // namespace

TEST_CASE("writes the whole file, replaces an old one, and leaves no temporary file") {
    const test::TempDir dir("file");
    const auto path = dir.path() / "out.json";
    write_file_atomically(path, as_bytes(std::string_view("first")));
    write_file_atomically(path, as_bytes(std::string_view("second")));
    CHECK(test::read_text(path) == "second");
    CHECK(entries(dir.path()) == 1);

    const mode_t mask = ::umask(022);
    write_file_atomically(path, as_bytes(std::string_view("x")));
    ::umask(mask);
    CHECK((fs::status(path).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read));
}

TEST_CASE("a symlink planted at the output path is replaced, never written through") {
    const test::TempDir dir("file-link");
    const auto victim = dir.write("victim", "precious");
    const auto path = dir.path() / "out.json";
    fs::create_symlink(victim, path);
    write_file_atomically(path, as_bytes(std::string_view("output")));
    CHECK(test::read_text(victim) == "precious");
    CHECK_FALSE(fs::is_symlink(path));
    CHECK(test::read_text(path) == "output");
}

TEST_CASE("a directory that does not exist is an I/O error naming the path") {
    const test::TempDir dir("file-missing");
    const auto path = dir.path() / "no" / "out.json";
    CHECK(test::code_of([&] { write_file_atomically(path, as_bytes(std::string_view("x"))); }) == Errc::io);
    try {
        write_file_atomically(path, as_bytes(std::string_view("x")));
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
    }
}

TEST_CASE("read_secret_file: owner-only files, size limit, exact content") {
    const test::TempDir dir("secret");
    const auto path = dir.write("key", "secret\n");
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    const auto key = read_secret_file(path, 64, true);
    CHECK(std::string(key.view().begin(), key.view().end()) == "secret\n");
    CHECK(test::code_of([&] { (void)read_secret_file(path, 3, true); }) == Errc::malformed);

    fs::permissions(path, fs::perms::others_read, fs::perm_options::add);
    CHECK(test::code_of([&] { (void)read_secret_file(path, 64, true); }) == Errc::invalid_argument);
    CHECK_FALSE(read_secret_file(path, 64, false).empty());  // a TLS key file may be group-readable
    CHECK(test::code_of([&] { (void)read_secret_file((dir.path() / "none").string(), 64, false); }) == Errc::io);

    SecretBytes copy = key;
    copy = SecretBytes(Bytes{1, 2});
    CHECK(copy.view().size() == 2);
}
