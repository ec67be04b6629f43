#include "pki/crypto/constant_time.hpp"

#include <openssl/crypto.h>

#include "pki/crypto/ossl.hpp"

namespace scep {

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Hash first so the comparison time does not depend on the lengths either.
    auto da = sha256(byte_view(reinterpret_cast<const std::uint8_t*>(a.data()), a.size()));
    auto db = sha256(byte_view(reinterpret_cast<const std::uint8_t*>(b.data()), b.size()));
    return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

}  // namespace scep
