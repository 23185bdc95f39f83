#pragma once

#include <nlohmann/json.hpp>

#include "tdxkit/pck.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit::detail {

nlohmann::json quote_body_json(const Quote& quote);
nlohmann::json certificate_json(const CertificateInfo& cert);
nlohmann::json pck_extension_json(const PckExtension& ext);

}  // namespace tdxkit::detail
