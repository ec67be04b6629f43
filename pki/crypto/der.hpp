// The few DER steps done by hand (X.690 §8.1): reading one TLV with a
// definite length, and writing a length or a whole TLV. Everything else goes
// through OpenSSL's encoders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "pki/crypto/ossl.hpp"

namespace scep {

struct der_tlv {
    std::size_t start = 0;   // offset of the tag
    std::size_t header = 0;  // tag and length octets
    std::size_t length = 0;  // content octets
    std::uint8_t tag = 0;
    std::size_t content() const { return start + header; }
    std::size_t end() const { return start + header + length; }
};

// The TLV at `at`; nullopt when it is cut short, has an indefinite length or
// a length of more than four octets.
std::optional<der_tlv> read_der_tlv(byte_view der, std::size_t at);

// X.690 §11.6: whether `a` may precede `b` in a DER SET OF (their encodings
// compared as octet strings, the shorter padded with zero octets).
bool der_set_less_or_equal(byte_view a, byte_view b);

// Appends a definite length (short form below 128, long form above).
void append_der_length(bytes& out, std::size_t length);
// Appends tag, length and content.
void append_der_tlv(bytes& out, std::uint8_t tag, byte_view content);

}  // namespace scep
