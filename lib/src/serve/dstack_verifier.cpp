// POST /verify: dstack-verifier's request and response (Dstack-TEE/dstack @312dc605
// dstack/verifier/src/{main,types,verification}.rs; /work notes: lib/docs/serve.md "Compatibility").
// The verdict is tdxkit's (ratls::appraise_evidence under the /verify policy); this file maps it onto
// dstack's steps and field names:
//   1. quote      DCAP, TCB not Revoked, the RTMR3 replay, REPORTDATA = the attestation's copy;
//   2. OS image   the boot chain predicted from vm_config's measurement document equals MRTD/RTMR0-2;
//   3. event log  the app identity read from the bound RTMR3 events.
// Deliberate differences: collateral that cannot be fetched is 503 with Retry-After (dstack answers
// is_valid:false, a verdict the evidence did not earn); unknown request members are refused (422);
// legacy boots without a measurement document are not verified (dstack downloads the image).

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "pcs/pck_internal.hpp"
#include "serve/service_internal.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/measure_boot.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::serve {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kRuntimeEnd = "system-ready";

// dstack's VerificationDetails, in its field order; the three optional members are absent, not null.
ordered_json default_details() {
    return ordered_json{{"quote_verified", false},         {"event_log_verified", false},
                        {"os_image_hash_verified", false}, {"acpi_tables_verified", false},
                        {"os_image_is_dev", nullptr},      {"os_image_version", nullptr},
                        {"tee_variant", nullptr},          {"report_data", nullptr},
                        {"tcb_status", nullptr},           {"advisory_ids", ordered_json::array()},
                        {"key_provider", nullptr},         {"app_info", nullptr}};
}

Response verdict(bool valid, ordered_json details, std::optional<std::string> reason, std::string reason_class) {
    Response r;
    r.body = ordered_json{{"is_valid", valid},
                          {"details", std::move(details)},
                          {"reason", reason ? ordered_json(*reason) : ordered_json(nullptr)}}
                 .dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    r.verdict = valid ? "ok" : "rejected";
    r.reason_class = std::move(reason_class);
    return r;
}

// dstack answers input it cannot turn into an attestation with HTTP 200 and "Internal error: ...".
Response internal_error(std::string_view what, std::string_view cause_class) {
    auto r = verdict(false, default_details(), fmt::format("Internal error: {}", what), std::string(cause_class));
    r.verdict = "error";
    return r;
}

// The request's members, as dstack's serde reads them (null = absent); Error(malformed) for a wrong
// type or bad hex, which dstack answers 422.
struct VerifyRequest {
    std::optional<Bytes> quote;
    std::optional<std::string> event_log;
    std::optional<std::string> vm_config;
    std::optional<Bytes> attestation;
};

// dstack's hex::decode: digits of either case, an even count, nothing else (no "0x", no blanks).
Bytes strict_hex(const std::string& text, std::string_view field) {
    const bool digits =
        std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
    if (!digits || text.size() % 2 != 0) {
        throw Error(Errc::malformed,
                    fmt::format("/verify request: \"{}\" is not hex (an even number of digits, no 0x)", field));
    }
    return from_hex(text, field);
}

VerifyRequest parse_request(const Request& request) {
    nlohmann::json doc;
    try {
        doc = detail::parse_json(request.body, "/verify request");
    } catch (const Error& e) {
        // A duplicate key is a data error to serde (422); a syntax error is 400.
        const bool duplicate = std::string_view(e.what()).find("duplicate key") != std::string_view::npos;
        throw Error(duplicate ? Errc::malformed : Errc::invalid_argument, e.what());
    }
    if (!doc.is_object()) throw Error(Errc::malformed, "/verify request: expected a JSON object");
    VerifyRequest out;
    for (const auto& [key, value] : doc.items()) {
        if (value.is_null()) continue;
        const auto text = [&, &k = key, &v = value] {
            if (!v.is_string())
                throw Error(Errc::malformed, fmt::format("/verify request: \"{}\" must be a string", k));
            return v.get<std::string>();
        };
        if (key == "quote") {
            out.quote = strict_hex(text(), "quote");
        } else if (key == "attestation") {
            out.attestation = strict_hex(text(), "attestation");
        } else if (key == "event_log") {
            out.event_log = text();
        } else if (key == "vm_config") {
            out.vm_config = text();
        } else if (key == "debug") {
            if (!value.is_boolean()) throw Error(Errc::malformed, "/verify request: \"debug\" must be a boolean");
        } else if (key != "report_data") {
            // report_data comes with a GetQuote response posted as is; the quote's own is what counts.
            throw Error(Errc::malformed,
                        fmt::format("/verify request: unknown field \"{:.40}\" (quote, event_log, vm_config, "
                                    "attestation, debug, report_data)",
                                    key));
        }
    }
    return out;
}

// The evidence as dstack builds it: an attestation as given, or one made from the quote and its log
// (Attestation::from_tdx_quote: the quote's REPORTDATA, no config), so the same checks apply to both.
std::optional<ratls::Evidence> evidence_of(const VerifyRequest& request, Response& failure) {
    try {
        if (request.attestation) {
            auto e = ratls::decode_evidence(*request.attestation, InputFormat::raw);
            if (!e.attestation) throw Error(Errc::malformed, "not a dstack versioned attestation");
            return e;
        }
        if (!request.quote) {
            failure = internal_error("Quote is required", "quote_required");
            return std::nullopt;
        }
        if (!request.event_log) {
            failure = internal_error("Event log is required", "event_log_required");
            return std::nullopt;
        }
        ratls::Evidence e;
        e.container = "dstack-verifier request";
        e.quote = *request.quote;
        e.event_log = parse_dstack_event_log(*request.event_log);
        const auto quote = parse_quote(e.quote);
        DstackAttestation made;
        made.quote = e.quote;
        made.event_log = *e.event_log;
        if (const auto* td = quote.td_body()) made.report_data = td->report_data;
        made.config = request.vm_config.value_or("");
        e.attestation = std::move(made);
        return e;
    } catch (const Error& e) {
        failure = internal_error(
            fmt::format("{}: {}", request.attestation ? "Failed to decode attestation" : "Failed to create attestation",
                        e.what()),
            errc_name(e.code()));
        return std::nullopt;
    }
}

// Step 2: MRTD and RTMR0-2 predicted from the vm_config's lite measurement document, the RTMR0 ACPI
// digests taken from the log by position (bound only by RTMR0's comparison: acpi_tables_verified stays
// false, as in dstack's lite path). Returns the failure, or nullopt when every register is equal.
std::optional<std::string> os_image_failure(const VmConfigEntry& derived, const EventLog& log, const TdReportBody& td) {
    if (!derived.digests) return derived.failure;
    auto digests = *derived.digests;
    digests.acpi = acpi_digests_from_event_log(log, digests.variant);
    const auto predicted = assemble_boot_measurement(digests);
    const auto diagnosis = diagnose_boot(predicted, td, &log);
    for (const auto& r : diagnosis.registers) {
        if (!r.equal) {
            return fmt::format("MRs do not match: {} mismatch: expected={}, actual={}", r.name, to_hex(r.expected),
                               to_hex(r.actual));
        }
    }
    return std::nullopt;
}

ordered_json key_provider(const Bytes& info) {
    if (info.empty()) return nullptr;
    try {
        const auto doc = detail::parse_json(std::string_view(reinterpret_cast<const char*>(info.data()), info.size()),
                                            "key-provider payload");
        if (doc.is_object() && doc.contains("name") && doc["name"].is_string() && doc.contains("id") &&
            doc["id"].is_string()) {
            return ordered_json{{"name", doc["name"].get<std::string>()}, {"id", doc["id"].get<std::string>()}};
        }
    } catch (const Error&) {
    }
    return nullptr;  // dstack: best effort, never an error
}

struct AppIdentity {
    Bytes app_id, compose_hash, instance_id, key_provider_info;
    std::vector<Bytes> init_script_hashes;
};

// From the RTMR3 events before "system-ready"; each is a runtime event whose digest the replay checked.
AppIdentity app_identity(const EventLog& log) {
    AppIdentity id;
    const auto first = [](Bytes& slot, bool& seen, const Event& e) {
        if (!seen) slot = e.payload;
        seen = true;
    };
    bool app = false, compose = false, instance = false, provider = false;
    for (const auto& e : log.events) {
        if (e.imr != 3 || !e.is_runtime()) continue;
        if (e.name == kRuntimeEnd) break;
        if (e.name == "app-id") first(id.app_id, app, e);
        if (e.name == "compose-hash") first(id.compose_hash, compose, e);
        if (e.name == "instance-id") first(id.instance_id, instance, e);
        if (e.name == "key-provider") first(id.key_provider_info, provider, e);
        if (e.name == "init-script-hash") id.init_script_hashes.push_back(e.payload);
    }
    return id;
}

std::shared_ptr<const VmConfigEntry> derive_vm_config(std::string_view config_text) {
    auto entry = std::make_shared<VmConfigEntry>();
    try {
        entry->config = parse_vm_config(config_text);
        if (!entry->config->measurement_document) {
            entry->failure = "the vm_config carries no tdx_measurement document, so the boot chain cannot be computed "
                             "here (dstack-verifier downloads the OS image for legacy boots; tdxkit does not): compute "
                             "the registers with `tdxkit measure --image`, pin them in a policy and use POST "
                             "/v1/appraise";
        } else {
            entry->digests = boot_digests_from_vm_config(*entry->config, std::nullopt);
        }
    } catch (const Error& e) {
        entry->failure = e.what();
    }
    return entry;
}

// SHA-256 of the PPID of the quote's PCK leaf, or empty without a PCK chain. Read only after the quote
// verified, so the leaf is the one verify_quote checked.
Bytes device_id_of(const Quote& quote) {
    const auto chain = detail::quote_pck_chain(quote);
    if (chain.empty() || !chain.front().sgx_extension) return {};
    // One digest, then its bytes: iterators into two separate temporaries would copy whatever memory
    // lies between them.
    const auto digest = sha256(chain.front().sgx_extension->ppid);
    return {digest.begin(), digest.end()};
}

}  // namespace

Response dstack_verify(const Request& request, const Policy& policy, CollateralStore& collateral, VerifyMemos& memos,
                       const AppraisalOptions& options) {
    VerifyRequest parsed;
    try {
        parsed = parse_request(request);
    } catch (const Error& e) {
        return error_response(e.code() == Errc::invalid_argument ? 400 : 422,
                              e.code() == Errc::invalid_argument ? "bad_request" : "unprocessable", e.what());
    }
    Response failure;
    const auto evidence = evidence_of(parsed, failure);
    if (!evidence) return failure;

    auto details = default_details();
    const auto quote = parse_quote(evidence->quote);
    const auto* td = quote.td_body();
    if (td == nullptr) return internal_error("Failed to create attestation: not a TDX quote", "unsupported");
    // Collateral that cannot be had is no verdict: 503 (error_response), never is_valid:false.
    const auto collateral_for = collateral.get(quote, *options.now);
    const auto appraisal =
        ratls::appraise_evidence(*evidence, quote, collateral_for ? *collateral_for : Collateral{}, policy, options);
    const auto& report = appraisal.report;

    // Step 1: the quote, as dstack's quote verification covers it (signature chain and TCB, the RTMR3
    // replay, the report-data copy). Policy rules come last, after dstack's own steps.
    const auto failed_evidence = std::find_if(appraisal.evidence_checks.begin(), appraisal.evidence_checks.end(),
                                              [](const Check& c) { return !c.passed; });
    std::optional<std::string> quote_failure;
    std::string quote_failure_class;
    if (!report.authentic) {
        quote_failure = fmt::format("{}: {}", report.failed_check, report.failure);
        quote_failure_class = report.failed_check;
    } else if (report.tcb_status == TcbStatus::revoked) {
        quote_failure = "TCB status is Revoked";
        quote_failure_class = "tcb_revoked";
    } else if (failed_evidence != appraisal.evidence_checks.end()) {
        quote_failure = fmt::format("{}: {}", failed_evidence->id, failed_evidence->detail);
        quote_failure_class = failed_evidence->id;
    }
    if (quote_failure) {
        return verdict(false, std::move(details), fmt::format("Quote verification failed: {}", *quote_failure),
                       quote_failure_class);
    }
    details["quote_verified"] = true;
    details["tee_variant"] = "dstack-tdx";
    details["report_data"] = to_hex(td->report_data);
    details["tcb_status"] = report.tcb_status ? ordered_json(tcb_status_name(*report.tcb_status)) : nullptr;
    details["advisory_ids"] = report.advisory_ids;

    // Step 2: the OS image. The vm_config is the attestation's (for a quote request, the request's).
    const auto& config_text = evidence->attestation->config;
    const std::string_view text = config_text.empty() ? std::string_view("{}") : std::string_view(config_text);
    const auto derived = memos.configs.get(text, [&] { return derive_vm_config(text); });
    std::optional<std::string> image_failure;
    try {
        image_failure = os_image_failure(*derived, *evidence->event_log, *td);
    } catch (const Error& e) {
        image_failure = e.what();
    }
    if (image_failure) {
        return verdict(false, std::move(details), fmt::format("OS image hash verification failed: {}", *image_failure),
                       "os_image_hash");
    }
    const auto& config = derived->config;
    details["os_image_hash_verified"] = true;

    // Step 3: the application, from the log the quote's RTMR3 vouches for (step 1).
    const auto id = app_identity(*evidence->event_log);
    // Memoized by the exact PCK chain text; only a chain can name a device.
    const auto& certification = quote.signature_data.certification;
    const auto device_id =
        certification.type == static_cast<std::uint16_t>(CertDataType::pck_cert_chain)
            ? memos.device_ids.get(
                  std::string_view(reinterpret_cast<const char*>(certification.data.data()), certification.data.size()),
                  [&] { return device_id_of(quote); })
            : Bytes{};
    const auto mr_key_provider = id.key_provider_info.empty() ? Octets<32>{} : sha256(id.key_provider_info);
    const auto system = mr_system(td->mr_td, {td->rtmr[0], td->rtmr[1], td->rtmr[2]}, mr_key_provider);
    const auto aggregated = mr_aggregated(*td);
    const std::string os_image_hash = config->os_image_hash ? to_hex(*config->os_image_hash) : "";
    ordered_json init_scripts = ordered_json::array();
    for (const auto& h : id.init_script_hashes) init_scripts.push_back(to_hex(h));
    details["event_log_verified"] = true;
    details["key_provider"] = key_provider(id.key_provider_info);
    details["app_info"] = ordered_json{{"app_id", to_hex(id.app_id)},
                                       {"compose_hash", to_hex(id.compose_hash)},
                                       {"instance_id", to_hex(id.instance_id)},
                                       {"device_id", to_hex(device_id)},
                                       {"mr_system", to_hex(system)},
                                       {"mr_aggregated", to_hex(aggregated)},
                                       {"os_image_hash", os_image_hash},
                                       {"key_provider_info", to_hex(id.key_provider_info)},
                                       {"init_script_hashes", init_scripts},
                                       // Older dstack-verifier answers (its README) also list the registers.
                                       {"mrtd", to_hex(td->mr_td)},
                                       {"rtmr0", to_hex(td->rtmr[0])},
                                       {"rtmr1", to_hex(td->rtmr[1])},
                                       {"rtmr2", to_hex(td->rtmr[2])},
                                       {"rtmr3", to_hex(td->rtmr[3])}};
    details["boot_info"] =
        ordered_json{{"teeVariant", "dstack-tdx"},
                     {"mrAggregated", to_hex(aggregated)},
                     {"osImageHash", os_image_hash},
                     {"mrSystem", to_hex(system)},
                     {"appId", to_hex(id.app_id)},
                     {"composeHash", to_hex(id.compose_hash)},
                     {"instanceId", to_hex(id.instance_id)},
                     {"deviceId", to_hex(device_id)},
                     {"keyProviderInfo", to_hex(id.key_provider_info)},
                     {"tcbStatus", details["tcb_status"].is_null() ? ordered_json("") : details["tcb_status"]},
                     {"advisoryIds", report.advisory_ids}};

    // Last, tdxkit's policy (--verify-policy; by default dstack's own acceptance: any TCB status but
    // Revoked, no debug TD, MRSIGNERSEAM zero).
    if (!appraisal.accepted) {
        return verdict(false, std::move(details), fmt::format("Policy violation: {}", appraisal.reason),
                       appraisal.policy_result.violations.empty() ? "policy"
                                                                  : appraisal.policy_result.violations.front().path);
    }
    return verdict(true, std::move(details), std::nullopt, "");
}

Policy dstack_verifier_policy() {
    Policy p = default_policy();
    p.source = "<dstack-verifier>";
    p.tcb.accepted_statuses = {TcbStatus::up_to_date,           TcbStatus::sw_hardening_needed,
                               TcbStatus::configuration_needed, TcbStatus::configuration_and_sw_hardening_needed,
                               TcbStatus::out_of_date,          TcbStatus::out_of_date_configuration_needed,
                               TcbStatus::td_relaunch_advised,  TcbStatus::td_relaunch_advised_configuration_needed};
    p.td.mrsignerseam = DigestList{Bytes(48, 0)};
    return p;
}

}  // namespace tdxkit::serve
