#pragma once

// Private to the library: the one validator of a dstack event (cc-eventlog TdxEvent), whatever
// carried it (a JSON log, a versioned attestation's SCALE or msgpack form).

#include <cstddef>

#include <nlohmann/json.hpp>

#include "tdxkit/eventlog.hpp"

namespace tdxkit::detail {

// `obj` is a TdxEvent as JSON: {imr, event_type, digest (hex), event, event_payload (hex), version?,
// preimage?}. A runtime event's digest is recomputed from its name and payload (a given one must
// agree); a boot event needs its 48-byte digest. Throws Error(malformed) "event log: event N (name): ...".
[[nodiscard]] Event parse_dstack_event(std::size_t index, const nlohmann::json& obj);

}  // namespace tdxkit::detail
