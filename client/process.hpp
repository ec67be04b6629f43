// Running a command for `scep-lab conformance`: in its own process group, so
// that a timeout or the end of a case takes everything it started with it.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "pki/crypto/result.hpp"

namespace scep::client {

struct ended {
    int exit_code = -1, signal = 0;  // signal: what ended it, when one did
    bool timed_out = false;
    double seconds = 0;
};

// Starts argv (no shell; PATH searched) in its own process group, in `cwd`,
// stdin from /dev/null, stdout and stderr to `log`, with `env` added.
result<pid_t> start_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                            const std::filesystem::path& log,
                            const std::vector<std::pair<std::string, std::string>>& env = {});

// Waits up to `timeout`, then kills the whole group (also after a normal
// exit: a daemon the command started must not outlive it).
// `tick` (when given) is called about once a second with the time so far.
ended wait_for(pid_t pid, std::chrono::seconds timeout, const std::function<void(double seconds)>& tick = {});

// Whether `pid` (started by start_process) has ended, without waiting: its
// exit, reaped; nullopt while it runs. Its group may live on.
std::optional<ended> ended_yet(pid_t pid);
// Ends what is left of the group `pid` leads (TERM, then KILL after 0.5 s)
// and reaps the leader if it was not: a trigger's background work.
void stop_group(pid_t pid);

}  // namespace scep::client
