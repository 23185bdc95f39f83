// `tdxkit quote generate`: ask the TD's quote provider for a quote over the caller's report data, or
// with --ra-tls-cert, over a fresh key's, written as an RA-TLS certificate and key for a server.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "ratls_options.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/file.hpp"
#include "tdxkit/provider.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct GenerateOptions {
    std::string report_data;
    std::string report_data_file;
    std::string provider = "auto";
    std::string out = "-";
    std::string format = "hex";
    std::string tsm_dir{kDefaultTsmDir};
    std::string pki;
    std::string event_log_out;
    std::string bind_cert;
    std::string ra_tls_cert;
    std::string ra_tls_key;
    RaTlsCertOptions cert_options;
    bool out_given = false;  // --out was on the command line (with --ra-tls-cert the quote is in the certificate)
};

constexpr std::size_t kMaxCertificate = 64 * 1024;

Bytes load_report_data(const GenerateOptions& o) {
    if (!o.report_data.empty()) return from_hex(o.report_data, "--report-data");
    // One byte over the limit is enough to report the true problem (too long) instead of truncating.
    return read_input(o.report_data_file, 65);
}

std::string encoded_quote(const GeneratedQuote& q, const std::string& format) {
    if (format == "hex") return to_hex(q.quote) + "\n";
    if (format == "base64") return to_base64(q.quote) + "\n";
    if (format == "json") {
        if (q.response_json) return *q.response_json + "\n";
        json doc{{"quote", to_hex(q.quote)}};
        if (q.event_log) doc["event_log"] = *q.event_log;
        return doc.dump() + "\n";
    }
    return std::string(q.quote.begin(), q.quote.end());
}

// --ra-tls-cert OUT --key OUT: the quote binds a fresh key; both go to files, the key readable by its
// owner only.
int run_ra_tls_cert(const GenerateOptions& o, const GlobalOptions& global) {
    if (o.ra_tls_key.empty()) throw Error(Errc::invalid_argument, "--ra-tls-cert needs --key (where to write the key)");
    if (!o.report_data.empty() || !o.report_data_file.empty() || !o.bind_cert.empty()) {
        throw Error(Errc::invalid_argument,
                    "--ra-tls-cert: the report data is the hash of the certificate's key: --report-data, "
                    "--report-data-file and --bind-cert do not apply");
    }
    QuoteRequest request;
    request.provider = parse_quote_provider(o.provider);
    request.tsm_dir = o.tsm_dir;
    request.pki_dir = o.pki;
    if (request.provider != QuoteProvider::simulated && !o.pki.empty()) {
        throw Error(Errc::invalid_argument, "--pki applies only to --provider simulated");
    }
    if (request.provider == QuoteProvider::simulated) {
        warn("--provider simulated: the quote is signed with tdxkit's public TEST keys. It proves nothing, verifies "
             "only with that PKI's --trust-root, and must never be accepted in production.");
    }
    const auto made = make_ra_tls_certificate(request, o.cert_options, std::nullopt);
    for (const auto& w : made.quote.warnings) warn(w);
    // The key first: a certificate without its key is of no use, a key without its certificate is
    // simply made again.
    write_private_file_atomically(o.ra_tls_key, made.private_key_pem.view());
    write_output(o.ra_tls_cert, as_bytes(made.certificate_pem));
    if (!o.event_log_out.empty()) write_output(o.event_log_out, as_bytes(made.event_log + "\n"));
    if (o.out_given) write_output(o.out, as_bytes(encoded_quote(made.quote, o.format)));
    const auto fingerprint = to_hex(sha256(atls::leaf_certificate_der(as_bytes(made.certificate_pem))));
    if (global.json) {
        json doc{{"schema", "tdxkit.quote-generate/v1"},
                 {"provider", quote_provider_name(made.quote.provider)},
                 {"source", made.quote.source},
                 {"report_data", to_hex(made.report_data)},
                 {"quote", to_hex(made.quote.quote)},
                 {"quote_size", made.quote.quote.size()},
                 {"event_log", made.event_log},
                 {"vm_config", made.quote.vm_config ? json(*made.quote.vm_config) : json(nullptr)},
                 {"warnings", made.quote.warnings},
                 {"ra_tls_certificate",
                  {{"certificate", o.ra_tls_cert},
                   {"key", o.ra_tls_key},
                   {"sha256", fingerprint},
                   {"not_before", format_rfc3339(made.not_before)},
                   {"not_after", format_rfc3339(made.not_after)}}}};
        write_output("-", as_bytes(doc.dump(2) + "\n"));
    } else if (!global.quiet) {
        fmt::print(stderr, "tdxkit: RA-TLS certificate {} (sha256 {}) and its key {}; {}-byte quote from {}\n",
                   o.ra_tls_cert, fingerprint, o.ra_tls_key, made.quote.quote.size(), made.quote.source);
    }
    return kOk;
}

int run_generate(const GenerateOptions& o, const GlobalOptions& global) {
    QuoteRequest request;
    request.report_data = pad_report_data(load_report_data(o));
    request.provider = parse_quote_provider(o.provider);
    request.tsm_dir = o.tsm_dir;
    request.pki_dir = o.pki;
    if (request.provider != QuoteProvider::simulated && (!o.pki.empty() || !o.bind_cert.empty())) {
        throw Error(Errc::invalid_argument, "--pki and --bind-cert apply only to --provider simulated");
    }
    if (request.provider == QuoteProvider::simulated) {
        warn("--provider simulated: the quote is signed with tdxkit's public TEST keys. It proves nothing, verifies "
             "only with that PKI's --trust-root, and must never be accepted in production.");
        if (!o.bind_cert.empty())
            request.bind_certificate_der = atls::leaf_certificate_der(read_input(o.bind_cert, kMaxCertificate));
    }
    const auto q = generate_quote_or_simulate(request);
    for (const auto& w : q.warnings) warn(w);
    if (!o.event_log_out.empty()) {
        if (!q.event_log) {
            throw Error(Errc::invalid_argument,
                        fmt::format("--event-log-out: {} returns no event log (in a TD, the firmware's log is "
                                    "/sys/firmware/acpi/tables/data/CCEL)",
                                    quote_provider_name(q.provider)));
        }
        write_output(o.event_log_out, as_bytes(*q.event_log + "\n"));
    }
    if (global.json) {
        if (o.out != "-") write_output(o.out, as_bytes(encoded_quote(q, o.format)));
        json doc{{"schema", "tdxkit.quote-generate/v1"},
                 {"provider", quote_provider_name(q.provider)},
                 {"source", q.source},
                 {"report_data", to_hex(request.report_data)},
                 {"quote", to_hex(q.quote)},
                 {"quote_size", q.quote.size()},
                 {"event_log", q.event_log ? json(*q.event_log) : json(nullptr)},
                 {"vm_config", q.vm_config ? json(*q.vm_config) : json(nullptr)},
                 {"warnings", q.warnings}};
        write_output("-", as_bytes(doc.dump(2) + "\n"));
        return kOk;
    }
    write_output(o.out, as_bytes(encoded_quote(q, o.format)));
    if (!global.quiet) fmt::print(stderr, "tdxkit: {}-byte quote from {}\n", q.quote.size(), q.source);
    return kOk;
}

}  // namespace

void register_quote_generate(CLI::App* quote, const GlobalOptions& global, int& rc) {
    auto o = std::make_shared<GenerateOptions>();
    auto* sub = quote->add_subcommand("generate", "Generate a quote inside a TD (configfs-tsm or dstack)");
    auto* hex = sub->add_option("--report-data", o->report_data, "Report data, hex, at most 64 bytes (zero-padded)");
    auto* file = sub->add_option("--report-data-file", o->report_data_file,
                                 "Report data as raw bytes from a file ('-' for stdin), at most 64");
    hex->excludes(file);
    file->excludes(hex);
    sub->add_option("--provider", o->provider, "Quote provider; simulated only when named")
        ->check(CLI::IsMember({"auto", "configfs-tsm", "dstack", "simulated"}))
        ->capture_default_str();
    sub->add_option("--out", o->out, "Where to write the quote, '-' for stdout")->capture_default_str();
    sub->add_option("--format", o->format, "Quote encoding (json: the GetQuote response form)")
        ->check(CLI::IsMember({"raw", "hex", "base64", "json"}))
        ->capture_default_str();
    sub->add_option("--tsm-dir", o->tsm_dir, "configfs-tsm report directory")->capture_default_str();
    sub->add_option("--pki", o->pki, "Simulated provider: the TEST PKI directory (testdata/pki)");
    sub->add_option("--bind-cert", o->bind_cert,
                    "Simulated provider: certificate (PEM/DER) to bind with a New TLS Certificate event");
    sub->add_option("--event-log-out", o->event_log_out, "Write the provider's JSON event log to this file");
    auto* out = sub->get_option("--out");
    sub->add_option("--ra-tls-cert", o->ra_tls_cert,
                    "Instead of report data: make a key, a quote binding it and an RA-TLS certificate (PEM) here");
    sub->add_option("--key", o->ra_tls_key, "With --ra-tls-cert: where to write its private key (PEM, mode 0600)");
    add_ra_tls_cert_options(sub, o->cert_options);
    sub->callback([o, out, &global, &rc] {
        if (!o->ra_tls_cert.empty()) {
            o->out_given = out->count() > 0;
            rc = run_ra_tls_cert(*o, global);
            return;
        }
        if (!o->ra_tls_key.empty() || ra_tls_cert_options_given(o->cert_options)) {
            throw Error(Errc::invalid_argument, "--key, --cert-not-before and --cert-not-after go with --ra-tls-cert");
        }
        if (o->report_data.empty() && o->report_data_file.empty()) {
            throw CLI::RequiredError("--report-data or --report-data-file");
        }
        rc = run_generate(*o, global);
    });
}

}  // namespace tdxkit::cli
