#include "pki/crypto/encoding.hpp"

#include <algorithm>

#include <cctype>
#include <cstdio>

#include <array>

namespace scep {

namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int, 256> make_table() {
    std::array<int, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
    t['-'] = 62;  // URL-safe alphabet
    t['_'] = 63;
    return t;
}
constexpr auto table = make_table();

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string base64_query_value(byte_view data) {
    std::string b64 = base64_encode(data), escaped;
    escaped.reserve(b64.size() + b64.size() / 8);
    for (char c : b64) {
        if (c == '+') escaped += "%2B";
        else if (c == '/') escaped += "%2F";
        else if (c == '=') escaped += "%3D";
        else escaped += c;
    }
    return escaped;
}

std::string markup_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string percent_encode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

std::string base64_encode(byte_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (i + 1 == data.size()) {
        unsigned v = data[i] << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == data.size()) {
        unsigned v = (data[i] << 16) | (data[i + 1] << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::optional<bytes> hex_decode(std::string_view text) {
    if (text.size() % 2 != 0) return std::nullopt;
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    bytes out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int hi = digit(text[i]), lo = digit(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    }
    return out;
}

std::optional<bytes> base64_decode(std::string_view text) {
    bytes out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    std::size_t symbols = 0;
    bool padding = false;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        if (padding) return std::nullopt;  // data after padding
        int v = table[static_cast<unsigned char>(c)];
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        ++symbols;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    if (symbols % 4 == 1) return std::nullopt;  // impossible length
    return out;
}

std::string_view media_type(std::string_view content_type) {
    std::string_view ct = content_type.substr(0, content_type.find(';'));
    while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
    return ct;
}

std::string printable_text(std::string_view text, std::size_t max, char replacement) {
    std::string out;
    out.reserve(std::min(text.size(), max) + 3);
    for (char c : text.substr(0, max)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? replacement : c;
    }
    if (text.size() > max) out += "...";
    return out;
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string redact_url(std::string_view url) {
    std::string out;
    std::size_t at = 0;
    if (auto scheme = url.find("://"); scheme != std::string_view::npos) {
        const std::size_t authority = scheme + 3;
        const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
        out.append(url.substr(0, authority));
        std::string_view auth = url.substr(authority, authority_end - authority);
        if (auto atsign = auth.rfind('@'); atsign != std::string_view::npos) {
            std::string_view user = auth.substr(0, atsign);
            if (auto colon = user.find(':'); colon != std::string_view::npos) user = user.substr(0, colon + 1);
            out.append(user);
            if (user.ends_with(':')) out.append("***");
            out.append(auth.substr(atsign));
        } else {
            out.append(auth);
        }
        at = authority_end;
    }
    const std::size_t query = url.find('?', at);
    const std::size_t fragment = url.find('#', at);
    if (query == std::string_view::npos || (fragment != std::string_view::npos && fragment < query)) {
        out.append(url.substr(at, fragment == std::string_view::npos ? std::string_view::npos : fragment - at));
        return out;
    }
    out.append(url.substr(at, query + 1 - at));
    std::string_view rest = url.substr(query + 1, fragment == std::string_view::npos ? std::string_view::npos
                                                                                     : fragment - query - 1);
    bool first = true;
    while (true) {
        const std::size_t amp = rest.find('&');
        std::string_view param = rest.substr(0, amp);
        if (!first) out += '&';
        first = false;
        const std::size_t eq = param.find('=');
        if (eq == std::string_view::npos) out.append(param.empty() ? "" : "***");
        else out.append(param.substr(0, eq + 1)).append("***");
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
    return out;  // the fragment is never sent; left out
}

std::optional<utf8_char> decode_utf8(std::string_view text, std::size_t at) {
    if (at >= text.size()) return std::nullopt;
    const auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x80) return utf8_char{c, 1};
    const std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || at + n > text.size()) return std::nullopt;
    char32_t cp = c & (0xFF >> (n + 1));
    for (std::size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(text[at + k]);
        if ((cc & 0xC0) != 0x80) return std::nullopt;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return std::nullopt;
    return utf8_char{cp, n};
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        int hi = hex_value(text[i + 1]);
        int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string hresult_hex(std::uint32_t hr) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(hr));
    return buf;
}

std::string hresult_decimal(std::uint32_t hr) { return std::to_string(static_cast<std::int32_t>(hr)); }

}  // namespace scep
