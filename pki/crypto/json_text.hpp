// The one JSON writer: every JSON document the lab hands out (admin API,
// /transactions.json, --format json, webhook bodies, reports) is written
// here, and holds only valid UTF-8 (RFC 8259 §8.1). Bytes a client sent that
// are not UTF-8 (a User-Agent, a T61String transactionID) become U+FFFD, so
// a strict parser never refuses a whole list for one field.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace scep {

// Serialised, with every string and key made valid UTF-8.
std::string json_text(const boost::json::value& v);

// `text` with each byte that does not start a valid UTF-8 sequence (and each
// sequence that is overlong, a surrogate or above U+10FFFF) replaced by
// U+FFFD; valid text comes back unchanged.
std::string valid_utf8(std::string_view text);
bool is_valid_utf8(std::string_view text);

}  // namespace scep
