#include "server/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <type_traits>

#include "pki/crypto/json_text.hpp"

namespace scep::server {

std::string json_escape(const std::string& raw) {
    // Valid UTF-8 first, as every JSON the lab writes (pki/crypto/json_text.hpp).
    const std::string s = is_valid_utf8(raw) ? raw : valid_utf8(raw);
    std::string out;
    out.reserve(s.size() + 2);
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out;
}

namespace {
void apply_pattern(spdlog::logger& l, bool json) {
    if (json)
        l.set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
    else
        l.set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
}

// Text values with spaces, quotes or control characters are quoted and
// escaped as in JSON, so that a client-chosen value (a transactionID) can
// neither break a line in two nor send terminal escapes to whoever reads it.
std::string text_value(const std::string& v) {
    const bool plain = !v.empty() && std::none_of(v.begin(), v.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\';
    });
    if (plain) return v;
    return "\"" + json_escape(v) + "\"";
}

}  // namespace

event_log::event_log(config::log_format format, config::log_level level) : json_(format == config::log_format::json) {
    logger_ = std::make_shared<spdlog::logger>("scep-lab", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    using L = config::log_level;
    logger_->set_level(level == L::trace   ? spdlog::level::trace
                       : level == L::debug ? spdlog::level::debug
                       : level == L::info  ? spdlog::level::info
                       : level == L::warn  ? spdlog::level::warn
                       : level == L::error ? spdlog::level::err
                                           : spdlog::level::off);
    logger_->flush_on(spdlog::level::trace);
    apply_pattern(*logger_, json_);
}

event_log::event_log(std::shared_ptr<spdlog::logger> logger, bool json) : logger_(std::move(logger)), json_(json) {
    apply_pattern(*logger_, json_);
}

namespace {

// A field longer than this is cut (on a character boundary) and says how
// much was left out: a client's 60 KB value must not make every log line 60 KB.
constexpr std::size_t max_field_bytes = 1024;

std::string capped(const std::string& v) {
    if (v.size() <= max_field_bytes) return v;
    std::size_t cut = max_field_bytes;
    while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) --cut;
    return v.substr(0, cut) + "...[" + std::to_string(v.size() - cut) + " more bytes]";
}

}  // namespace

std::string log_value::text() const {
    return std::visit(
        [](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) return v;
            else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
            else if constexpr (std::is_same_v<T, double>) {
                // Shortest text that reads back the same: 1.71, not 1.71E0.
                if (!std::isfinite(v)) return "null";
                char buf[32];
                auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
                return ec == std::errc() ? std::string(buf, end) : "null";
            } else return std::to_string(v);
        },
        v_);
}

std::string log_value::json() const {
    if (is_text()) return "\"" + json_escape(capped(std::get<std::string>(v_))) + "\"";
    return text();
}

void event_log::event(spdlog::level::level_enum level, const std::string& msg, const fields& f) {
    if (!logger_->should_log(level)) return;
    std::string line;
    if (json_) {
        line = "\"msg\":\"" + json_escape(capped(msg)) + "\"";
        for (const auto& [k, v] : f) line += ",\"" + json_escape(capped(k)) + "\":" + v.json();
    } else {
        line = capped(msg);
        for (const auto& [k, v] : f) line += " " + capped(k) + "=" + text_value(capped(v.text()));
    }
    logger_->log(level, line);
}

}  // namespace scep::server
