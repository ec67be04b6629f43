// spdlog set-up and structured events: text "msg key=value ..." or one JSON
// object per line. Callers pass fields; secrets are never among them.
#pragma once

#include <spdlog/spdlog.h>

#include <concepts>
#include <cstdint>
#include <memory>
#include <string_view>
#include <variant>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace scep::server {

// A field's value: text, or a number or truth value that JSON lines keep as
// one ({"http":200,"ms":1.71,"tls":true}); text lines print all the same way.
class log_value {
public:
    log_value(std::string text) : v_(std::move(text)) {}
    log_value(const char* text) : v_(std::string(text)) {}
    log_value(std::string_view text) : v_(std::string(text)) {}
    template <std::integral T>
        requires(!std::same_as<T, bool> && !std::same_as<T, char>)
    log_value(T n) : v_(static_cast<std::int64_t>(n)) {}
    log_value(bool b) : v_(b) {}
    log_value(double d) : v_(d) {}

    // As text ("200", "1.71", "true").
    std::string text() const;
    // As a JSON value; text is escaped (valid UTF-8, no control characters).
    std::string json() const;
    bool is_text() const { return std::holds_alternative<std::string>(v_); }

private:
    std::variant<std::string, std::int64_t, double, bool> v_;
};

using fields = std::vector<std::pair<std::string, log_value>>;

class event_log {
public:
    // Logs go to stderr, in this format, from this level up.
    event_log(config::log_format format, config::log_level level);
    // A logger writing to the given sink (tests capture output this way).
    event_log(std::shared_ptr<spdlog::logger> logger, bool json);

    void event(spdlog::level::level_enum level, const std::string& msg, const fields& f = {});
    void info(const std::string& msg, const fields& f = {}) { event(spdlog::level::info, msg, f); }
    void warn(const std::string& msg, const fields& f = {}) { event(spdlog::level::warn, msg, f); }
    void error(const std::string& msg, const fields& f = {}) { event(spdlog::level::err, msg, f); }
    void debug(const std::string& msg, const fields& f = {}) { event(spdlog::level::debug, msg, f); }
    bool json() const { return json_; }
    spdlog::logger& logger() { return *logger_; }

private:
    std::shared_ptr<spdlog::logger> logger_;
    bool json_ = false;
};

std::string json_escape(const std::string& s);

}  // namespace scep::server
