#include "cli.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "tdxkit/file.hpp"
#include "tdxkit/testing.hpp"
#include "tdxkit/version.hpp"

namespace tdxkit::cli {

int exit_code_for(Errc code) noexcept {
    switch (code) {
    case Errc::malformed:
    case Errc::unsupported: return kMalformed;
    case Errc::invalid_argument: return kUsage;
    case Errc::collateral_unavailable: return kCollateralUnavailable;
    case Errc::io: return kIo;
    case Errc::crypto:
    case Errc::internal: return kInternal;
    }
    return kInternal;
}

int print_json_error(nlohmann::json doc, const Error& e) {
    doc["result"] = "error";
    doc["reason"] = e.what();
    doc["error"] = {{"code", errc_name(e.code())}, {"message", e.what()}};
    // An error message can quote bytes from the input; invalid UTF-8 must not turn it into a crash.
    write_output("-", as_bytes(doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
    fmt::print(stderr, "tdxkit: error: {}\n", e.what());
    return exit_code_for(e.code());
}

void warn(std::string_view message) { fmt::print(stderr, "tdxkit: WARNING: {}\n", message); }

GeneratedQuote generate_quote_or_simulate(const QuoteRequest& request) {
    return request.provider == QuoteProvider::simulated ? testing::generate_simulated_quote(request)
                                                        : generate_quote(request);
}

namespace {

// GNU strerror_r (glibc with _GNU_SOURCE, which g++ defines) returns the text, not always in `buf`;
// XSI strerror_r returns 0 and writes it to `buf`.
const char* strerror_r_text(const char* text, const char* /*buf*/) noexcept { return text; }
[[maybe_unused]] const char* strerror_r_text(int rc, const char* buf) noexcept {
    return rc == 0 ? buf : "Unknown error";
}

}  // namespace

std::string errno_message(int err) {
    std::array<char, 256> buf{};
    return strerror_r_text(::strerror_r(err, buf.data(), buf.size()), buf.data());
}

std::string listen_address(const std::string& host, std::uint16_t port) {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

void install_server_signals(void (*stop)(int), void (*reload)(int)) {
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_handler = stop;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    if (reload != nullptr) {
        action.sa_handler = reload;
        sigaction(SIGHUP, &action, nullptr);
    }
    static_cast<void>(std::signal(SIGPIPE, SIG_IGN));  // the previous handler is not restored
}

Bytes read_input(const std::string& path, std::size_t max_size) {
    Bytes out;
    if (path == "-") {
        std::array<char, 65536> buf{};
        while (true) {
            const auto n = std::fread(buf.data(), 1, buf.size(), stdin);
            out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
            if (out.size() > max_size) {
                throw Error(Errc::malformed, fmt::format("standard input exceeds the limit of {} bytes", max_size));
            }
            if (n < buf.size()) break;
        }
        if (std::ferror(stdin)) throw Error(Errc::io, "cannot read standard input");
        return out;
    }
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(Errc::io, fmt::format("cannot read {}: {}", path, ec.message()));
    if (size > max_size) {
        throw Error(Errc::malformed, fmt::format("{} is {} bytes, over the limit of {} bytes", path, size, max_size));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(Errc::io, fmt::format("cannot open {}: {}", path, errno_message(errno)));
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error(Errc::io, fmt::format("cannot read {}", path));
    return out;
}

void write_output(const std::string& path, ByteSpan data) {
    if (path == "-") {
        if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0) {
            throw Error(Errc::io, "cannot write to standard output");
        }
        return;
    }
    write_file_atomically(path, data);
}

int run(int argc, char** argv) {
    CLI::App app{"tdxkit: generate, decode, replay and verify Intel TDX quotes and event logs", "tdxkit"};
    app.set_version_flag("--version", fmt::format("tdxkit {}", kVersion));
    app.require_subcommand(1);
    app.fallthrough();
    app.footer("Exit status: 0 ok, 1 rejected, 2 usage, 3 malformed input, 4 collateral unavailable, 5 I/O error, "
               "70 internal error.\nSee tdxkit(1) and tdxkit-<command>(1).");
    GlobalOptions global;
    app.add_flag("--json", global.json, "Machine-readable JSON on stdout");
    app.add_flag("-q,--quiet", global.quiet, "No progress or informational messages on stderr");

    int rc = kOk;
    for (const Registrar reg :
         {register_quote, register_verify, register_replay_rtmr, register_measure, register_measure_compose,
          register_collateral, register_atls_connect, register_atls_serve, register_serve})
        reg(app, global, rc);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? kOk : kUsage;
    } catch (const Error& e) {
        fmt::print(stderr, "tdxkit: error: {}\n", e.what());
        return exit_code_for(e.code());
    } catch (const std::bad_alloc&) {
        fmt::print(stderr, "tdxkit: internal error: out of memory\n");
        return kInternal;
    } catch (const std::exception& e) {
        fmt::print(stderr, "tdxkit: internal error: {}\n", e.what());
        return kInternal;
    }
    return rc;
}

}  // namespace tdxkit::cli
