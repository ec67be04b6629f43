// Comparing secrets (challenges, tokens, passwords) without leaking their
// content or length through timing.
#pragma once

#include <string_view>

namespace scep {

// SHA-256 of both, then CRYPTO_memcmp: the time depends on neither the
// content nor the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace scep
