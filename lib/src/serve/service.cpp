// The verification service's request handling: routing, the policy set, collateral, metrics. The
// HTTP transport is http_server.cpp; dstack-verifier's /verify mapping is dstack_verifier.cpp.

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/read_file.hpp"
#include "serve/service_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/report.hpp"
#include "tdxkit/serve.hpp"

namespace tdxkit::serve {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPolicyFile = 4 * 1024 * 1024;
constexpr std::size_t kMaxPolicies = 256;
// Collateral stays in memory this long before it is resolved again (disk cache, then PCS/PCCS).
constexpr std::chrono::seconds kCollateralRefresh{3600};
constexpr std::array<double, 13> kLatencyBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,     10};

using PolicySet = std::map<std::string, Policy, std::less<>>;

// Every *.json of the directory, by file stem; any unreadable or invalid file fails the whole set.
std::shared_ptr<const PolicySet> load_policies(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        throw Error(Errc::io, fmt::format("policy directory {} does not exist or is not a directory", dir.string()));
    }
    auto set = std::make_shared<PolicySet>();
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
        if (set->size() == kMaxPolicies) {
            throw Error(Errc::invalid_argument,
                        fmt::format("policy directory {} holds more than {} policies", dir.string(), kMaxPolicies));
        }
        const auto bytes = detail::read_file_bounded(entry.path(), kMaxPolicyFile);
        const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        set->emplace(entry.path().stem().string(), parse_policy(text, entry.path().string()));
    }
    return set;
}

Response json_response(int status, const json& body) {
    Response r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

// The first token of a reason: a check id ("quote_signature") or a rule path ("td.mrtd").
std::string reason_class(std::string_view reason) {
    const auto colon = reason.find(':');
    const auto head = reason.substr(0, colon == std::string_view::npos ? 0 : colon);
    const bool token = !head.empty() && head.size() <= 48 && std::all_of(head.begin(), head.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
    return token ? std::string(head) : std::string("other");
}

std::string prometheus_label(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c == '\n' ? ' ' : c;
    }
    return out;
}

}  // namespace

std::string collateral_source_name(const CollateralSources& sources) {
    if (!sources.path.empty()) return fmt::format("collateral {}", sources.path);
    return fmt::format("{}{}", service_label(sources.service), sources.offline ? " (offline: cache only)" : "");
}

Response error_response(int status, std::string_view code, std::string_view message) {
    auto r = json_response(status, json{{"error", {{"code", code}, {"message", message}}}});
    r.verdict = "";
    r.reason_class = std::string(code);
    return r;
}

Response error_response(const Error& e) {
    switch (e.code()) {
    case Errc::collateral_unavailable: {
        auto r = error_response(503, errc_name(e.code()), e.what());
        r.headers.emplace_back("Retry-After", "5");
        return r;
    }
    case Errc::malformed:
    case Errc::unsupported: return error_response(422, errc_name(e.code()), e.what());
    case Errc::invalid_argument: return error_response(400, errc_name(e.code()), e.what());
    default: return error_response(500, errc_name(e.code()), e.what());
    }
}

json request_json(const Request& request, std::initializer_list<std::string_view> known) {
    json doc;
    try {
        doc = detail::parse_json(request.body, fmt::format("{} request", request.path));
    } catch (const Error& e) {
        throw Error(Errc::invalid_argument, e.what());  // the request, not the evidence, is bad: 400
    }
    if (!doc.is_object()) {
        throw Error(Errc::invalid_argument, fmt::format("{} request: expected a JSON object", request.path));
    }
    for (const auto& [key, unused] : doc.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            std::string names;
            for (const auto k : known) names += fmt::format("{}{}", names.empty() ? "" : ", ", k);
            throw Error(Errc::invalid_argument,
                        fmt::format("{} request: unknown field \"{:.40}\" (known: {})", request.path, key, names));
        }
    }
    return doc;
}

struct Service::Impl {
    Options options;
    CollateralStore collateral;
    // Collateral chains, CRLs, signed bodies and QE reports verified once per distinct input and time
    // (as verify --batch does), not once per request: without it a request costs a cold verification,
    // about seven times a warm one. Thread-safe and bounded.
    mutable VerificationCache verification_cache;
    mutable std::mutex policies_mutex;
    std::shared_ptr<const PolicySet> policies;
    std::atomic<std::size_t> inflight{0};
    VerifyMemos verify_memos;

    mutable std::mutex metrics_mutex;
    std::map<std::pair<std::string, int>, std::uint64_t> requests;  // (endpoint, status)
    std::map<std::array<std::string, 3>, std::uint64_t> verdicts;   // (endpoint, verdict, reason class)
    std::map<std::string, std::array<std::uint64_t, kLatencyBuckets.size() + 1>> latency_buckets;
    std::map<std::string, std::pair<double, std::uint64_t>> latency_sums;

    explicit Impl(Options o)
        : options(std::move(o)), collateral(options.collateral, options.trust_root, kCollateralRefresh),
          policies(load_policies(options.policy_dir)) {}

    std::shared_ptr<const PolicySet> policy_set() const {
        const std::lock_guard lock(policies_mutex);
        return policies;
    }

    UnixTime now() const { return options.at ? *options.at : now_utc(); }

    AppraisalOptions appraisal_options(UnixTime at) const {
        AppraisalOptions a;
        a.now = at;
        a.trust_root = options.trust_root;
        a.cache = &verification_cache;
        return a;
    }

    Response health() const {
        const auto set = policy_set();
        json names = json::array();
        for (const auto& [name, unused] : *set) names.push_back(name);
        return json_response(200, json{{"status", "ok"},  // dstack-verifier's health check reads "status": "ok"
                                       {"service", "tdxkit"},
                                       {"policies", names},
                                       {"trust_root",
                                        {{"intel", options.trust_root.is_intel_production},
                                         {"sha256", to_hex(sha256(options.trust_root.certificate_der))}}},
                                       {"collateral", collateral_source_name(collateral.sources())}});
    }

    Response appraise_request(const Request& request) {
        auto doc = request_json(request, {"evidence", "format", "event_log", "policy", "expected_report_data"});
        const auto evidence_text = [&]() -> std::string {
            const auto it = doc.find("evidence");
            if (it == doc.end()) throw Error(Errc::invalid_argument, "/v1/appraise request: \"evidence\" is missing");
            // A JSON container may come as itself; it is then bounded by max_body, as the request was.
            return it->is_string() ? std::move(it->get_ref<std::string&>()) : it->dump();
        }();
        auto format = InputFormat::automatic;
        if (const auto it = doc.find("format"); it != doc.end()) {
            if (!it->is_string())
                throw Error(Errc::invalid_argument, "/v1/appraise request: \"format\" must be a string");
            format = parse_input_format(it->get<std::string>());
        }
        // The client names the policy and the server holds them: a client never sends one, nor gets an
        // unpinned default by leaving the name out.
        const auto named = doc.find("policy");
        if (named == doc.end() || !named->is_string()) {
            throw Error(Errc::invalid_argument, "/v1/appraise request: \"policy\" must name a policy of the server's "
                                                "directory (GET /health lists them)");
        }
        const auto set = policy_set();
        const auto found = set->find(named->get<std::string>());
        if (found == set->end()) {
            throw Error(Errc::invalid_argument, fmt::format("/v1/appraise request: no policy named \"{:.64}\" in the "
                                                            "server's policy directory (GET /health lists them)",
                                                            named->get<std::string>()));
        }
        const Policy& policy = found->second;
        auto evidence = ratls::decode_evidence(as_bytes(evidence_text), format);
        std::string log_source;
        if (const auto it = doc.find("event_log"); it != doc.end() && !it->is_null()) {
            if (evidence.certificate || evidence.attestation) {
                throw Error(Errc::invalid_argument, fmt::format("/v1/appraise request: the {} carries its own event "
                                                                "log; leave \"event_log\" out",
                                                                evidence.container));
            }
            evidence.event_log = parse_dstack_event_log(it->is_string() ? it->get<std::string>() : it->dump());
            log_source = "request event_log";
        }
        const auto at = now();
        auto options_for = appraisal_options(at);
        if (const auto it = doc.find("expected_report_data"); it != doc.end()) {
            if (!it->is_string()) {
                throw Error(Errc::invalid_argument, "/v1/appraise request: \"expected_report_data\" must be hex");
            }
            options_for.expected_report_data = AppraisalOptions::ExpectedReportData{
                pad_report_data(from_hex(it->get<std::string>(), "expected_report_data")),
                "the request's expected_report_data"};
        }
        const auto quote = parse_quote(evidence.quote);
        const auto collateral_for = collateral.get(quote, at);
        const auto outcome = appraise_outcome(evidence, *collateral_for, policy, options_for, log_source);
        Response r;
        r.body = render_verify_json(outcome, options.trust_root, -1);
        r.verdict = std::string(outcome.result());
        r.reason_class = outcome.result() == "ok" ? "" : reason_class(outcome.reason());
        return r;
    }
};

Service::Service(Options options) {
    if (options.max_body == 0 || options.max_inflight == 0 || options.max_connections == 0) {
        throw Error(Errc::invalid_argument, "max_body, max_inflight and max_connections must be at least 1");
    }
    if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
        throw Error(Errc::invalid_argument, "give both a TLS certificate and its key, or neither");
    }
    impl_ = std::make_unique<Impl>(std::move(options));
    if (!impl_->options.verify_policy.empty() && !impl_->policy_set()->contains(impl_->options.verify_policy)) {
        throw Error(Errc::invalid_argument,
                    fmt::format("the /verify policy \"{}\" is not in the policy directory {}",
                                impl_->options.verify_policy, impl_->options.policy_dir.string()));
    }
}

Service::~Service() = default;

const Options& Service::options() const noexcept { return impl_->options; }

Response Service::handle(const Request& request) {
    try {
        // HEAD is GET without the body, which the transport drops.
        const bool get = request.method == "GET" || request.method == "HEAD";
        if (request.path == "/health") {
            if (!get) return method_not_allowed("GET, HEAD");
            return impl_->health();
        }
        if (request.path == "/metrics") {
            if (!get) return method_not_allowed("GET, HEAD");
            Response r;
            r.content_type = "text/plain; version=0.0.4";
            r.body = metrics_text();
            return r;
        }
        if (request.path == "/v1/appraise") {
            if (request.method != "POST") return method_not_allowed("POST");
            return impl_->appraise_request(request);
        }
        if (request.path == "/verify") {
            if (request.method != "POST") return method_not_allowed("POST");
            const auto set = impl_->policy_set();
            const auto& options = impl_->options;
            const Policy policy =
                options.verify_policy.empty() ? dstack_verifier_policy() : set->at(options.verify_policy);
            return dstack_verify(request, policy, impl_->collateral, impl_->verify_memos,
                                 impl_->appraisal_options(impl_->now()));
        }
        return error_response(404, "not_found",
                              fmt::format("no endpoint {:.64} (POST /verify, POST /v1/appraise, GET /health, GET "
                                          "/metrics)",
                                          request.path));
    } catch (const Error& e) {
        return error_response(e);
    } catch (const std::bad_alloc&) {
        return error_response(503, "overloaded", "out of memory for this request");
    } catch (const std::exception& e) {
        return error_response(500, "internal", e.what());
    }
}

std::optional<std::string> Service::reload_policies() {
    try {
        auto fresh = load_policies(impl_->options.policy_dir);
        if (!impl_->options.verify_policy.empty() && !fresh->contains(impl_->options.verify_policy)) {
            return fmt::format("the /verify policy \"{}\" is gone from the directory", impl_->options.verify_policy);
        }
        const std::lock_guard lock(impl_->policies_mutex);
        impl_->policies = std::move(fresh);
        return std::nullopt;
    } catch (const std::exception& e) {
        return e.what();
    }
}

std::vector<std::string> Service::policy_names() const {
    std::vector<std::string> names;
    for (const auto& [name, unused] : *impl_->policy_set()) names.push_back(name);
    return names;
}

bool Service::try_begin_request() noexcept {
    auto current = impl_->inflight.load();
    do {
        if (current >= impl_->options.max_inflight) return false;
    } while (!impl_->inflight.compare_exchange_weak(current, current + 1));
    return true;
}

void Service::end_request() noexcept { impl_->inflight.fetch_sub(1); }

void Service::record(const Request& request, const Response& response, double seconds) {
    // Unknown paths are one label value, so a scanner cannot grow the metrics without bound.
    const std::string endpoint = request.path == "/verify" || request.path == "/v1/appraise" ||
                                         request.path == "/health" || request.path == "/metrics"
                                     ? request.path
                                     : "other";
    const std::lock_guard lock(impl_->metrics_mutex);
    ++impl_->requests[{endpoint, response.status}];
    if (!response.verdict.empty()) ++impl_->verdicts[{endpoint, response.verdict, response.reason_class}];
    auto& buckets = impl_->latency_buckets[endpoint];
    const auto bucket = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds);
    ++buckets[static_cast<std::size_t>(bucket - kLatencyBuckets.begin())];
    auto& [sum, count] = impl_->latency_sums[endpoint];
    sum += seconds;
    ++count;
}

std::string Service::metrics_text() const {
    std::string out;
    const auto stats = impl_->collateral.stats();
    const std::lock_guard lock(impl_->metrics_mutex);
    out += "# HELP tdxkit_requests_total HTTP requests answered, by endpoint and status.\n"
           "# TYPE tdxkit_requests_total counter\n";
    for (const auto& [key, n] : impl_->requests) {
        out += fmt::format("tdxkit_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", prometheus_label(key.first),
                           key.second, n);
    }
    out += "# HELP tdxkit_verdicts_total Verdicts, by endpoint, result and reason class (the failed check or rule).\n"
           "# TYPE tdxkit_verdicts_total counter\n";
    for (const auto& [key, n] : impl_->verdicts) {
        out += fmt::format("tdxkit_verdicts_total{{endpoint=\"{}\",result=\"{}\",reason_class=\"{}\"}} {}\n",
                           prometheus_label(key[0]), prometheus_label(key[1]), prometheus_label(key[2]), n);
    }
    out += "# HELP tdxkit_request_duration_seconds Time from the complete request to the answer.\n"
           "# TYPE tdxkit_request_duration_seconds histogram\n";
    for (const auto& [endpoint, buckets] : impl_->latency_buckets) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
            cumulative += buckets[i];
            out += fmt::format("tdxkit_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n", endpoint,
                               kLatencyBuckets[i], cumulative);
        }
        cumulative += buckets.back();
        const auto& [sum, count] = impl_->latency_sums.at(endpoint);
        out += fmt::format("tdxkit_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"+Inf\"}} {}\n", endpoint,
                           cumulative);
        out += fmt::format("tdxkit_request_duration_seconds_sum{{endpoint=\"{}\"}} {}\n", endpoint, sum);
        out += fmt::format("tdxkit_request_duration_seconds_count{{endpoint=\"{}\"}} {}\n", endpoint, count);
    }
    out += fmt::format("# HELP tdxkit_collateral_cache_hits_total Requests served collateral from memory.\n"
                       "# TYPE tdxkit_collateral_cache_hits_total counter\n"
                       "tdxkit_collateral_cache_hits_total {}\n"
                       "# HELP tdxkit_collateral_fetches_total Collateral resolutions (disk cache, then PCS/PCCS).\n"
                       "# TYPE tdxkit_collateral_fetches_total counter\n"
                       "tdxkit_collateral_fetches_total {}\n"
                       "# HELP tdxkit_collateral_fetch_failures_total Resolutions that failed (answered 503).\n"
                       "# TYPE tdxkit_collateral_fetch_failures_total counter\n"
                       "tdxkit_collateral_fetch_failures_total {}\n"
                       "# HELP tdxkit_collateral_waits_total Requests that shared another request's fetch.\n"
                       "# TYPE tdxkit_collateral_waits_total counter\n"
                       "tdxkit_collateral_waits_total {}\n"
                       "# HELP tdxkit_inflight_requests Requests being verified or waiting for a worker.\n"
                       "# TYPE tdxkit_inflight_requests gauge\n"
                       "tdxkit_inflight_requests {}\n",
                       stats.hits, stats.fetches, stats.failures, stats.waits, impl_->inflight.load());
    return out;
}

Response method_not_allowed(std::string_view allowed) {
    auto r = error_response(405, "method_not_allowed", fmt::format("use {}", allowed));
    r.headers.emplace_back("Allow", std::string(allowed));
    return r;
}

}  // namespace tdxkit::serve
