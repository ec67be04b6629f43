// Base64 (RFC 4648) and percent-decoding as SCEP clients actually send them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pki/crypto/ossl.hpp"

namespace scep {

std::string base64_encode(byte_view data);

// The `message` query value of a GET PKIOperation (RFC 8894 §4.1): base64
// with '+', '/' and '=' percent-escaped.
std::string base64_query_value(byte_view data);
// &, <, >, " and ' as entities: safe in HTML and XML text and attribute values.
std::string markup_escape(std::string_view text);
// RFC 3986 §2.1 percent-encoding of everything but the unreserved characters.
std::string percent_encode(std::string_view text);

// Decodes standard or URL-safe base64, ignoring whitespace and line breaks
// (RFC 8894 §4.1 GET messages are often wrapped at 64 columns) and tolerating
// missing padding. Returns nullopt on any other character or a bad length.
std::optional<bytes> base64_decode(std::string_view text);
// Hex digits (either case, an even number of them) to bytes; nullopt otherwise.
std::optional<bytes> hex_decode(std::string_view text);

// Text someone else chose (a client, a remote service), fit for a log line, a
// page or a terminal: control characters (C0 and DEL) replaced by
// `replacement`, cut at `max` bytes with "..." appended.
std::string printable_text(std::string_view text, std::size_t max, char replacement);

// A Content-Type's media type: before any parameters, trailing spaces gone
// (compare it with ascii_iequals or ascii_lower: media types ignore case).
std::string_view media_type(std::string_view content_type);

// ASCII case folding (protocol tokens, host names, header values).
std::string ascii_lower(std::string_view text);
bool ascii_iequals(std::string_view a, std::string_view b);

// A URL fit to show: the password of its userinfo and the value of every
// query parameter replaced by "***" (https://u:***@host/p?token=***), so a
// credential in a configured URL reaches no reply, page or log line.
std::string redact_url(std::string_view url);

// A Windows HRESULT as Microsoft prints it ("0x80094800") and as NDES puts
// it on the wire: the signed decimal ("-2146875392").
std::string hresult_hex(std::uint32_t hr);
std::string hresult_decimal(std::uint32_t hr);

// One UTF-8 code point at `at`: its value and how many bytes it takes;
// nullopt for anything that is not UTF-8 (a bad lead or continuation byte, a
// sequence cut short, an overlong form, a surrogate, a value past U+10FFFF).
struct utf8_char {
    char32_t code_point;
    std::size_t size;
};
std::optional<utf8_char> decode_utf8(std::string_view text, std::size_t at);

// Percent-decodes a query component. '+' stays '+': SCEP messages are base64,
// which has no spaces, and macOS sends '+' and '/' unescaped (only '=' escaped),
// so reading '+' as a space would corrupt them. Returns nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace scep
