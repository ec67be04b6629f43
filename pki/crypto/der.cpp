#include "pki/crypto/der.hpp"

#include <algorithm>

namespace scep {

std::optional<der_tlv> read_der_tlv(byte_view der, std::size_t at) {
    if (at + 2 > der.size()) return std::nullopt;
    der_tlv t{at, 2, 0, der[at]};
    const std::uint8_t first = der[at + 1];
    if (first < 0x80) {
        t.length = first;
    } else {
        const std::size_t n = first & 0x7f;
        if (n == 0 || n > 4 || at + 2 + n > der.size()) return std::nullopt;  // indefinite or absurd
        for (std::size_t i = 0; i < n; ++i) t.length = (t.length << 8) | der[at + 2 + i];
        t.header = 2 + n;
    }
    if (t.end() > der.size()) return std::nullopt;
    return t;
}

void append_der_length(bytes& out, std::size_t length) {
    if (length < 0x80) {
        out.push_back(static_cast<std::uint8_t>(length));
        return;
    }
    bytes octets;
    for (std::size_t v = length; v; v >>= 8) octets.insert(octets.begin(), static_cast<std::uint8_t>(v & 0xff));
    out.push_back(static_cast<std::uint8_t>(0x80 | octets.size()));
    out.insert(out.end(), octets.begin(), octets.end());
}

void append_der_tlv(bytes& out, std::uint8_t tag, byte_view content) {
    out.push_back(tag);
    append_der_length(out, content.size());
    out.insert(out.end(), content.begin(), content.end());
}

bool der_set_less_or_equal(byte_view a, byte_view b) {
    std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        auto x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
        if (x != y) return x < y;
    }
    return true;
}

}  // namespace scep
