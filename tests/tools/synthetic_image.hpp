// The deterministic synthetic dstack-style image in testdata/measure/synthetic/: the inputs of the
// `tdxkit measure` tests (TDVF firmware, bzImage kernel with and without a certificate table,
// initrd, metadata.json, ACPI blobs, sha256sum.txt). The layout is specified at the top of
// synthetic_image.cpp.
#pragma once

#include <vector>

#include "tdxkit/testing.hpp"

namespace tdxkit::testgen {

// Every file of the synthetic image, named relative to the testdata directory
// ("measure/synthetic/..."). Byte-identical on every call.
[[nodiscard]] std::vector<testing::NamedFile> synthetic_image_files();

}  // namespace tdxkit::testgen
