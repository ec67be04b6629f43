#include "server/iis_log.hpp"

#include <ctime>

namespace scep::server {

std::string w3c_field(std::string_view value) {
    if (value.empty()) return "-";
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == ' ') out += '+';
        else if (u < 0x20 || u == 0x7F) out += '?';
        else out += c;
    }
    return out;
}

result<std::unique_ptr<iis_access_log>> iis_access_log::open(std::filesystem::path dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir))
        return make_error("log.iis_dir: cannot create the directory " + dir.string() + (ec ? ": " + ec.message() : ""));
    return std::unique_ptr<iis_access_log>(new iis_access_log(std::move(dir)));
}

void iis_access_log::write(const iis_line& l) {
    const std::time_t t = std::chrono::system_clock::to_time_t(l.end);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char day[8], date[16], time[16];
    std::strftime(day, sizeof day, "%y%m%d", &tm);
    std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
    std::strftime(time, sizeof time, "%H:%M:%S", &tm);
    std::lock_guard lock(mu_);
    if (day_ != day || !out_.is_open()) {
        // A new day, a new file (IIS's daily rollover, UTC file names).
        out_.close();
        const auto file = dir_ / ("u_ex" + std::string(day) + ".log");
        std::error_code ec;
        const bool fresh = !std::filesystem::exists(file, ec) || std::filesystem::file_size(file, ec) == 0;
        out_.open(file, std::ios::app | std::ios::binary);
        if (!out_) return;  // the lab keeps answering; the log says nothing more until the next day
        day_ = day;
        if (fresh)
            out_ << "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: " << date << ' '
                 << time
                 << "\r\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
                    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n";
    }
    out_ << date << ' ' << time << ' ' << w3c_field(l.server_ip) << ' ' << w3c_field(l.method) << ' '
         << w3c_field(l.uri_stem) << ' ' << w3c_field(l.uri_query) << ' ' << l.server_port << ' '
         << w3c_field(l.username) << ' ' << w3c_field(l.client_ip) << ' ' << w3c_field(l.user_agent) << ' '
         << w3c_field(l.referer) << ' ' << l.status << ' ' << l.substatus << ' ' << l.win32_status << ' '
         << l.time_taken_ms << "\r\n"
         << std::flush;
}

}  // namespace scep::server
