#include "tdxkit/error.hpp"

namespace tdxkit {

const char* errc_name(Errc code) noexcept {
    switch (code) {
    case Errc::malformed: return "malformed";
    case Errc::unsupported: return "unsupported";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::collateral_unavailable: return "collateral_unavailable";
    case Errc::io: return "io";
    case Errc::crypto: return "crypto";
    case Errc::internal: return "internal";
    }
    return "internal";
}

}  // namespace tdxkit
