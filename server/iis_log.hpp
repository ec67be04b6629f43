// log.iis_dir: every request the lab answers, logged as IIS logs it
// (W3C extended format, https://learn.microsoft.com/en-us/windows/win32/http/w3c-logging,
// the fields IIS 10 writes by default), one file a UTC day named
// u_exYYMMDD.log. A lab standing in for a customer's NDES then leaves the
// same kind of log as theirs: compared line by line, or read back with
// `scep-lab inspect` (docs/evidence.md). Requests HTTP.sys refuses itself
// (414: the URL is too long) are not in an IIS log, as on Windows.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "pki/crypto/result.hpp"

namespace scep::server {

struct iis_line {
    std::chrono::system_clock::time_point end;  // when the answer was sent (IIS logs then)
    std::string server_ip;
    std::uint16_t server_port = 0;
    std::string method, uri_stem, uri_query, username, client_ip, user_agent, referer;
    int status = 0;
    int substatus = 0;
    std::uint32_t win32_status = 0;
    long long time_taken_ms = 0;
};

class iis_access_log {
public:
    static result<std::unique_ptr<iis_access_log>> open(std::filesystem::path dir);
    void write(const iis_line& line);
    const std::filesystem::path& dir() const { return dir_; }

private:
    explicit iis_access_log(std::filesystem::path dir) : dir_(std::move(dir)) {}
    std::filesystem::path dir_;
    std::mutex mu_;
    std::ofstream out_;
    std::string day_;  // the open file's YYMMDD
};

// A field as W3C logging writes it: "-" when empty, spaces as '+', no
// control characters (IIS writes the user agent the same way).
std::string w3c_field(std::string_view value);

}  // namespace scep::server
