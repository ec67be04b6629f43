// Inside `scep-lab conformance`: the lab the cases run against (a private
// child server, or one that already runs) and observe mode's watch of a
// device for one case. Not an interface of its own: shared by the runner's
// files (conformance_run.cpp, conformance_observe.cpp).
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "client/admin_client.hpp"
#include "client/conformance.hpp"
#include "client/progress.hpp"

namespace scep::client {

// The lab: a child `scep-lab serve` on a free loopback port (pid > 0), or
// one that already runs (--server); its admin API either way.
struct lab_server {
    pid_t pid = -1;
    std::string url, base_url, ca_file, token;
    std::optional<admin_client> admin;

    lab_server() = default;
    lab_server(const lab_server&) = delete;
    lab_server& operator=(const lab_server&) = delete;
    ~lab_server();  // stops a child server

    result<boost::json::value> call(const std::string& method, const std::string& target, const std::string& body = {});
};

// One exchange as the lab's transaction list gives it.
struct lab_row {
    std::int64_t id = 0;
    std::string client, operation, transaction_id, pki_status;
    int http_status = 0;
};
// The lab's exchanges after transaction `after` (at most 1000), oldest
// first; nullopt when its list cannot be read.
std::optional<std::vector<lab_row>> rows_after(lab_server& srv, std::int64_t after);

// One case in observe mode (--trigger, --manual): the trigger or the prompt,
// the window over the device's exchanges after transaction `before`, the
// check. Sets r.seconds and r.timeout_seconds.
observation observe_case(lab_server& srv, const conformance_options& o, const conformance_case& c, case_result& r,
                         const std::filesystem::path& dir, const placeholders& ph, std::int64_t before,
                         std::size_t index, std::size_t count, progress& shown);

}  // namespace scep::client
