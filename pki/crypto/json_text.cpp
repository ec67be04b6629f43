#include "pki/crypto/json_text.hpp"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

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

bool has_double(const json::value& v) {
    switch (v.kind()) {
        case json::kind::double_: return true;
        case json::kind::array:
            for (const auto& e : v.get_array())
                if (has_double(e)) return true;
            return false;
        case json::kind::object:
            for (const auto& [k, e] : v.get_object())
                if (has_double(e)) return true;
            return false;
        default: return false;
    }
}

// Boost.JSON writes 1.711 as "1.711E0": correct JSON, but pages and people
// read it. Documents with a double are written here, each number in its
// shortest exact form ("1.711", "1e+21"), everything else as Boost.JSON does.
void write_readable(const json::value& v, std::string& out) {
    switch (v.kind()) {
        case json::kind::double_: {
            const double d = v.get_double();
            char buf[32];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
            if (!std::isfinite(d) || ec != std::errc()) out += "null";
            else out.append(buf, end);
            return;
        }
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                write_readable(e, out);
            }
            out += ']';
            return;
        }
        case json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& [k, e] : v.get_object()) {
                if (!first) out += ',';
                first = false;
                out += json::serialize(json::string_view(k));
                out += ':';
                write_readable(e, out);
            }
            out += '}';
            return;
        }
        default: out += json::serialize(v);
    }
}

}  // namespace

std::string json_text(const json::value& v) {
    // Almost always valid already: one read-only walk, no copy.
    auto write = [](const json::value& valid) {
        if (!has_double(valid)) return json::serialize(valid);
        std::string out;
        write_readable(valid, out);
        return out;
    };
    if (all_valid(v)) return write(v);
    return write(repaired(v));
}

}  // namespace scep
