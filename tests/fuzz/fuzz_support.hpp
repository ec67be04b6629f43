// The test-only lab the fuzzers run against: the RA and issuing CA the seed
// messages were captured with (tests/fuzz/data), loaded once.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "pki/hierarchy.hpp"

namespace scep::fuzz {

inline const hierarchy& lab() {
    static std::unique_ptr<hierarchy> h = [] {
        load_providers();
        hierarchy_spec spec;
        spec.bring_your_own = true;
        spec.byo.chain = {SCEP_LAB_FUZZ_DATA "/issuing.crt"};
        spec.byo.issuing_key = SCEP_LAB_FUZZ_DATA "/issuing.key";
        spec.byo.ra_cert = SCEP_LAB_FUZZ_DATA "/ra.crt";
        spec.byo.ra_key = SCEP_LAB_FUZZ_DATA "/ra.key";
        auto dir = std::filesystem::temp_directory_path() / "scep-lab-fuzz-pki";
        auto opened = hierarchy::open(spec, dir, std::chrono::system_clock::now(), [](const std::string&) {});
        if (!opened) std::abort();
        return std::make_unique<hierarchy>(std::move(*opened));
    }();
    return *h;
}

}  // namespace scep::fuzz
