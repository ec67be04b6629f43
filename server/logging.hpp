// spdlog set-up and structured events: text "msg key=value ..." or one JSON
// object per line. Callers pass fields; secrets are never among them.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace scep::server {

using fields = std::vector<std::pair<std::string, std::string>>;

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
