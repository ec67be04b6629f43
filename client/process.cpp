#include "client/process.hpp"

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace scep::client {

result<pid_t> start_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                            const std::filesystem::path& log,
                            const std::vector<std::pair<std::string, std::string>>& env) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) return make_error("fork failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out < 0 || in < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(126);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        ::execvp(args[0], args.data());
        const char msg[] = "scep-lab conformance: cannot execute the client command\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    return pid;
}

ended wait_for(pid_t pid, std::chrono::seconds timeout, const std::function<void(double seconds)>& tick) {
    ended e;
    const auto t0 = std::chrono::steady_clock::now();
    auto next_tick = t0 + std::chrono::seconds(1);
    int status = 0;
    for (;;) {
        if (tick && std::chrono::steady_clock::now() >= next_tick) {
            tick(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            next_tick += std::chrono::seconds(1);
        }
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (std::chrono::steady_clock::now() - t0 >= timeout) {
            e.timed_out = true;
            ::kill(-pid, SIGTERM);
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(-pid, SIGKILL);
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (WIFEXITED(status)) e.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
    return e;
}

std::optional<ended> ended_yet(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
    ended e;
    if (WIFEXITED(status)) e.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
    return e;
}

void stop_group(pid_t pid) {
    if (::kill(-pid, SIGTERM) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        ::kill(-pid, SIGKILL);
    }
    // The leader, when not reaped yet (ECHILD when it was).
    for (int i = 0; i < 20; ++i) {
        int status = 0;
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w != 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace scep::client
