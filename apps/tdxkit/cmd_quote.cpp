// `tdxkit quote decode`: decode any quote container into fields.

#include <fmt/format.h>

#include "cli.hpp"
#include "tdxkit/describe.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::cli {
namespace {

struct DecodeOptions {
    std::string input = "-";
    std::string format = "auto";
};

// Text containers (hex, base64, JSON) are at most a few times larger than the binary quote; a
// versioned attestation in hex is at most twice dstack's limit.
constexpr std::size_t kMaxInputSize = 2 * kMaxAttestationSize + 1024;

int run_decode(const DecodeOptions& opts, const GlobalOptions& global) {
    const auto data = read_input(opts.input, kMaxInputSize);
    const auto evidence = ratls::decode_evidence(data, parse_input_format(opts.format));
    const auto quote = parse_quote(evidence.quote);
    const auto text = global.json ? describe_quote_json(quote, evidence) : describe_quote_text(quote, evidence);
    write_output("-", as_bytes(text));
    return kOk;
}

}  // namespace

void register_quote(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto* quote = root.add_subcommand("quote", "Decode quotes (and, inside a TD, generate them)");
    quote->require_subcommand(1);

    auto decode_opts = std::make_shared<DecodeOptions>();
    auto* decode = quote->add_subcommand(
        "decode", "Decode a quote: raw, hex, base64, a JSON container, an RA-TLS certificate or a dstack attestation");
    decode->add_option("input", decode_opts->input, "Quote, certificate or attestation file, '-' for standard input")
        ->capture_default_str();
    decode->add_option("--format", decode_opts->format, "Input format")
        ->check(CLI::IsMember({"auto", "raw", "hex", "base64", "json"}))
        ->capture_default_str();
    decode->callback([decode_opts, &global, &rc] { rc = run_decode(*decode_opts, global); });
    register_quote_generate(quote, global, rc);
}

}  // namespace tdxkit::cli
