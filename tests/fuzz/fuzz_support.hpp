// The test-only lab the fuzzers run against: the RA and issuing CA the seed
// messages were captured with (tests/fuzz/data), loaded once.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#include "pki/ca/hierarchy.hpp"

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
        // One folder per process: fuzzers run side by side (scripts/fuzz.sh).
        static const auto dir =
            std::filesystem::temp_directory_path() / ("scep-lab-fuzz-pki-" + std::to_string(::getpid()));
        struct remove_at_exit {
            ~remove_at_exit() {
                std::error_code ec;
                std::filesystem::remove_all(dir, ec);
            }
        };
        static remove_at_exit cleanup;
        auto opened = hierarchy::open(spec, dir, std::chrono::system_clock::now(), [](const std::string&) {});
        if (!opened) std::abort();
        return std::make_unique<hierarchy>(std::move(*opened));
    }();
    return *h;
}

}  // namespace scep::fuzz
