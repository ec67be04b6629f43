#include "integration/server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace scep::test {

namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& out_file,
            const std::string& err_file) {
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    std::string bin = SCEP_LAB_BINARY;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

run_result run_scep_lab(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    auto dir = std::filesystem::temp_directory_path();
    auto tag = std::to_string(::getpid()) + "-" + std::to_string(std::rand());
    auto out = dir / ("scep-lab-run-" + tag + ".out");
    auto err = dir / ("scep-lab-run-" + tag + ".err");
    pid_t pid = spawn(args, env, out, err);
    run_result r;
    r.exit_code = wait_exit(pid);
    r.out = slurp(out);
    r.err = slurp(err);
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return r;
}

server_process::server_process(std::filesystem::path data_dir, std::vector<std::string> extra_args,
                               std::vector<std::string> env)
    : data_dir_(std::move(data_dir)), args_(std::move(extra_args)), env_(std::move(env)) {
    std::filesystem::create_directories(data_dir_);
    ready_file_ = data_dir_ / "ready.json";
    log_file_ = data_dir_ / "server.log";
}

server_process::~server_process() {
    if (running()) stop();
}

bool server_process::start(std::chrono::seconds timeout) {
    std::filesystem::remove(ready_file_);
    // HTTPS is off here: these tests count the rows enrollments add, and the
    // HTTPS certificate would be one more (peer.https covers HTTPS).
    std::vector<std::string> args{"serve", "--listen", "127.0.0.1", "--port", "0", "--data-dir", data_dir_.string(),
                                  "--ready-file", ready_file_.string()};
    if (https_) {
        args.insert(args.end(), {"--https-port", "0"});
    } else {
        args.push_back("--no-https");
    }
    args.insert(args.end(), args_.begin(), args_.end());
    pid_ = spawn(args, env_, (data_dir_ / "server.out").string(), log_file_.string());
    auto deadline = std::chrono::steady_clock::now() + timeout;
    static const std::regex port_re("\"port\":([0-9]+)");
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return false;  // exited during start-up
        }
        std::smatch m;
        std::string ready = slurp(ready_file_);
        if (std::regex_search(ready, m, port_re)) {
            port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
            static const std::regex https_re("\"https_port\":([0-9]+)");
            if (std::smatch h; std::regex_search(ready, h, https_re)) https_port_ = static_cast<std::uint16_t>(std::stoi(h[1]));
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling for a condition, not a fixed wait
    }
    return false;
}

int server_process::stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int code = wait_exit(pid_);
    pid_ = -1;
    return code;
}

bool server_process::running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

std::string server_process::log() const { return slurp(log_file_); }

}  // namespace scep::test
