// `tdxkit quote decode`: decode any quote container into fields.

#include <fmt/format.h>

#include "cli.hpp"
#include "tdxkit/describe.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit::cli {
namespace {

struct DecodeOptions {
    std::string input = "-";
    std::string format = "auto";
};

// Text containers (hex, base64, JSON) are at most a few times larger than the binary quote.
constexpr std::size_t kMaxInputSize = 8 * kMaxQuoteSize;

int run_decode(const DecodeOptions& opts, const GlobalOptions& global) {
    const auto data = read_input(opts.input, kMaxInputSize);
    const auto input = decode_quote_input(data, parse_input_format(opts.format));
    const auto quote = parse_quote(input.quote);
    const auto text = global.json ? describe_quote_json(quote, input) : describe_quote_text(quote, input);
    write_output("-", as_bytes(text));
    return kOk;
}

}  // namespace

void register_quote(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto* quote = root.add_subcommand("quote", "Decode quotes (and, inside a TD, generate them)");
    quote->require_subcommand(1);

    auto decode_opts = std::make_shared<DecodeOptions>();
    auto* decode = quote->add_subcommand("decode", "Decode a quote: raw, hex, base64 or a JSON container");
    decode->add_option("input", decode_opts->input, "Quote file, '-' for standard input")->capture_default_str();
    decode->add_option("--format", decode_opts->format, "Input format")
        ->check(CLI::IsMember({"auto", "raw", "hex", "base64", "json"}))
        ->capture_default_str();
    decode->callback([decode_opts, &global, &rc] { rc = run_decode(*decode_opts, global); });
    register_quote_generate(quote, global, rc);
}

}  // namespace tdxkit::cli
