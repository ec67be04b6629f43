// Owners for libssl objects, for the code that has a TLS client or server
// (pki/ itself has none; ossl.hpp holds the libcrypto ones).
#pragma once

#include <memory>

#include <openssl/ssl.h>

#include "pki/crypto/ossl.hpp"

namespace scep {

using ssl_session_ptr = std::unique_ptr<SSL_SESSION, ossl_free<SSL_SESSION_free>>;

}  // namespace scep
