#pragma once

// Private to the serve module: what the endpoints share.

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/shared_cache.hpp"
#include "tdxkit/appraise.hpp"
#include "tdxkit/collateral_store.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure_boot.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/serve.hpp"

namespace tdxkit::serve {

// {"error": {"code", "message"}} with the status.
[[nodiscard]] Response error_response(int status, std::string_view code, std::string_view message);
// The status for a library error: 503 with Retry-After for collateral_unavailable, 422 for
// malformed or unsupported evidence, 400 for invalid_argument, 500 otherwise.
[[nodiscard]] Response error_response(const Error& e);
[[nodiscard]] Response method_not_allowed(std::string_view allowed);

// The request body as a JSON object through the strict parser, with only the `known` members.
// Error(invalid_argument) otherwise (bad JSON is Error(malformed) from the parser).
[[nodiscard]] nlohmann::json request_json(const Request& request, std::initializer_list<std::string_view> known);

// "directory X", "PCCS https://..." for /health.
[[nodiscard]] std::string collateral_source_name(const CollateralSources& sources);

// What POST /verify applies without --verify-policy: dstack-verifier's own acceptance (any TCB status
// but Revoked, no debug TD, MRSIGNERSEAM zero); source "<dstack-verifier>".
[[nodiscard]] Policy dstack_verifier_policy();

// What /verify derives from a vm_config alone: its parse, and the boot digests of its measurement
// document, or why there are none.
struct VmConfigEntry {
    std::optional<VmConfig> config;
    std::optional<BootDigests> digests;  // without the ACPI digests, which come from each TD's log
    std::string failure;                 // why config or digests are missing
};

// What /verify derives from one input alone, kept per exact input: the vm_config's entry
// (dstack-verifier caches its prediction per vm_config the same way), and the device_id of a PCK chain
// (decoding the chain was a fifth of a /verify request). Bounded; thread-safe.
struct VerifyMemos {
    detail::SharedCache<std::shared_ptr<const VmConfigEntry>> configs{256};
    detail::SharedCache<Bytes> device_ids{1024};
};

// POST /verify, dstack-verifier's request and response (dstack_verifier.cpp).
[[nodiscard]] Response dstack_verify(const Request& request, const Policy& policy, CollateralStore& collateral,
                                     VerifyMemos& memos, const AppraisalOptions& options);

}  // namespace tdxkit::serve
