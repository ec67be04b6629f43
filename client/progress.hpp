// Progress of long work on standard error: on a terminal one line redrawn in
// place (a counter, the rate and the time left); in a log (CI, a file) a line
// at most every `interval`, so that a job log shows the work is alive without
// filling up. Safe to update from several threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <ostream>
#include <string>

namespace scep::client {

class progress {
public:
    enum class style { detect, terminal, log };  // detect: whether standard error is a terminal
    // `total` 0: no counter (only the elapsed time).
    progress(std::string what, std::size_t total, std::ostream& err,
             std::chrono::seconds interval = std::chrono::seconds(15), style how = style::detect);
    progress(const progress&) = delete;
    progress& operator=(const progress&) = delete;
    ~progress() { finish(); }

    // `done` items finished (of total); `note` says what runs now.
    void update(std::size_t done, const std::string& note = {});
    // Clears the terminal line before other output; the next update redraws it.
    void finish_line();
    // Clears the terminal line; in a log, says how long it took when it took
    // long enough to have been reported.
    void finish();
    // Whether standard error is a terminal (the redrawn line).
    bool terminal() const { return terminal_; }

private:
    std::string line(std::size_t done, const std::string& note) const;
    std::string what_;
    std::size_t total_;
    std::ostream& err_;
    std::chrono::seconds interval_;
    bool terminal_;
    std::chrono::steady_clock::time_point start_, last_;
    bool reported_ = false, finished_ = false;
    std::size_t width_ = 0;
    std::mutex mu_;
};

}  // namespace scep::client
