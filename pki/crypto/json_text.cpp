#include "pki/crypto/json_text.hpp"

#include <boost/json/serialize.hpp>

#include "pki/crypto/encoding.hpp"

namespace scep {

namespace json = boost::json;

bool is_valid_utf8(std::string_view text) {
    for (std::size_t at = 0; at < text.size();) {
        if (static_cast<unsigned char>(text[at]) < 0x80) {
            ++at;
            continue;
        }
        auto c = decode_utf8(text, at);
        if (!c) return false;
        at += c->size;
    }
    return true;
}

std::string valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        if (static_cast<unsigned char>(text[at]) < 0x80) {
            out += text[at++];
            continue;
        }
        if (auto c = decode_utf8(text, at)) {
            out.append(text.substr(at, c->size));
            at += c->size;
        } else {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER, one per bad byte
            ++at;
        }
    }
    return out;
}

namespace {

bool all_valid(const json::value& v) {
    switch (v.kind()) {
        case json::kind::string: return is_valid_utf8(v.get_string());
        case json::kind::array:
            for (const auto& e : v.get_array())
                if (!all_valid(e)) return false;
            return true;
        case json::kind::object:
            for (const auto& [k, e] : v.get_object())
                if (!is_valid_utf8(k) || !all_valid(e)) return false;
            return true;
        default: return true;
    }
}

json::value repaired(const json::value& v) {
    switch (v.kind()) {
        case json::kind::string: return json::string(valid_utf8(v.get_string()));
        case json::kind::array: {
            json::array out;
            out.reserve(v.get_array().size());
            for (const auto& e : v.get_array()) out.push_back(repaired(e));
            return out;
        }
        case json::kind::object: {
            json::object out;
            for (const auto& [k, e] : v.get_object()) out[valid_utf8(k)] = repaired(e);
            return out;
        }
        default: return v;
    }
}

}  // namespace

std::string json_text(const json::value& v) {
    // Almost always valid already: one read-only walk, no copy.
    if (all_valid(v)) return json::serialize(v);
    return json::serialize(repaired(v));
}

}  // namespace scep
