// Starts the real scep-lab binary on port 0 with a temporary data dir and
// waits for its ready file: integration tests talk to it over loopback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace scep::test {

struct run_result {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs scep-lab to completion (for init, list, config errors).
run_result run_scep_lab(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

class server_process {
public:
    server_process(std::filesystem::path data_dir, std::vector<std::string> extra_args = {},
                   std::vector<std::string> env = {});
    ~server_process();
    server_process(const server_process&) = delete;

    // True once the ready file appeared (within the timeout).
    bool start(std::chrono::seconds timeout = std::chrono::seconds(30));
    int stop();  // SIGTERM, then waits; returns the exit status
    bool running() const;
    void set_env(std::vector<std::string> env) { env_ = std::move(env); }  // before start()
    void enable_https() { https_ = true; }  // before start(): HTTPS on a free port (off by default)
    pid_t pid() const { return pid_; }

    std::uint16_t port() const { return port_; }
    std::uint16_t https_port() const { return https_port_; }  // 0 when HTTPS is off
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/scep"; }
    std::string log() const;

private:
    std::filesystem::path data_dir_;
    std::vector<std::string> args_;
    std::vector<std::string> env_;
    std::filesystem::path ready_file_, log_file_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::uint16_t https_port_ = 0;
    bool https_ = false;
};

}  // namespace scep::test
