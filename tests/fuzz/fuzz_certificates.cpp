// PEM chains as carried in certification data type 5, certificate decoding and the Intel SGX
// extension (directly, and inside certificates).
#include "fuzz_target.hpp"
#include "tdxkit/pck.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) {
    try {
        (void)tdxkit::parse_pck_extension(data);
    } catch (const tdxkit::Error&) {
    }
    try {
        (void)tdxkit::describe_certificate(data);
    } catch (const tdxkit::Error&) {
    }
    (void)tdxkit::describe_pem_chain(data);
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
