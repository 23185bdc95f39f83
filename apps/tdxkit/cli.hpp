#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/provider.hpp"

namespace tdxkit::cli {

// Documented in tdxkit(1), EXIT STATUS.
enum ExitCode : int {
    kOk = 0,
    kRejected = 1,
    kUsage = 2,
    kMalformed = 3,
    kCollateralUnavailable = 4,
    kIo = 5,
    kInternal = 70,
};

struct GlobalOptions {
    bool json = false;
    bool quiet = false;
};

// A subcommand registers its options and sets `rc` from its callback.
using Registrar = void (*)(CLI::App& root, const GlobalOptions& global, int& rc);

void register_quote(CLI::App& root, const GlobalOptions& global, int& rc);
void register_verify(CLI::App& root, const GlobalOptions& global, int& rc);
void register_atls_connect(CLI::App& root, const GlobalOptions& global, int& rc);
void register_atls_serve(CLI::App& root, const GlobalOptions& global, int& rc);
void register_replay_rtmr(CLI::App& root, const GlobalOptions& global, int& rc);
void register_measure_compose(CLI::App& root, const GlobalOptions& global, int& rc);
void register_measure(CLI::App& root, const GlobalOptions& global, int& rc);
void register_collateral(CLI::App& root, const GlobalOptions& global, int& rc);
void register_serve(CLI::App& root, const GlobalOptions& global, int& rc);
// `quote generate`, under the `quote` command.
void register_quote_generate(CLI::App* quote, const GlobalOptions& global, int& rc);

int run(int argc, char** argv);
int exit_code_for(Errc code) noexcept;

// "host:port", or "[host]:port" for an IPv6 address: how a server prints where it listens.
std::string listen_address(const std::string& host, std::uint16_t port);
// For the servers: `stop` on SIGTERM and SIGINT, `reload` (when set) on SIGHUP, SIGPIPE ignored (a
// client that hangs up is an error on its connection, not the end of the process).
void install_server_signals(void (*stop)(int), void (*reload)(int) = nullptr);

// Reads a whole file ("-" is stdin), refusing anything larger than max_size.
Bytes read_input(const std::string& path, std::size_t max_size);
// The system's text for an errno value (std::strerror's), safe from any thread: strerror may share
// one buffer between threads (POSIX).
std::string errno_message(int err);
// Writes atomically (temporary file + rename); "-" is stdout.
void write_output(const std::string& path, ByteSpan data);

// With --json a failure is still one document on stdout: `doc` (at least its "schema"), completed
// with result "error", the reason and the error code; plus the usual line on stderr. Returns the
// exit status for the error.
int print_json_error(nlohmann::json doc, const Error& e);

// libtdxkit's generate_quote, or tdxkit-testing's simulated provider when the request names it (the
// caller has warned that its quotes prove nothing).
GeneratedQuote generate_quote_or_simulate(const QuoteRequest& request);

// One stderr line, prefixed, for warnings that must not be missed.
void warn(std::string_view message);

}  // namespace tdxkit::cli
