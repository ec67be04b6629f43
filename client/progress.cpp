#include "client/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace scep::client {

namespace {
std::string seconds_text(double s) {
    char buf[32];
    if (s < 90) std::snprintf(buf, sizeof buf, "%.0f s", s);
    else std::snprintf(buf, sizeof buf, "%.0f min %02.0f s", std::floor(s / 60), std::fmod(s, 60));
    return buf;
}
}  // namespace

progress::progress(std::string what, std::size_t total, std::ostream& err, std::chrono::seconds interval, style how)
    : what_(std::move(what)), total_(total), err_(err), interval_(interval),
      terminal_(how == style::detect ? ::isatty(STDERR_FILENO) == 1 : how == style::terminal),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

std::string progress::line(std::size_t done, const std::string& note) const {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string out = what_;
    if (total_) {
        out += " " + std::to_string(done) + "/" + std::to_string(total_);
        if (done > 0 && done < total_ && elapsed > 1) {
            const double left = elapsed / static_cast<double>(done) * static_cast<double>(total_ - done);
            out += ", about " + seconds_text(left) + " left";
        }
    }
    out += " (" + seconds_text(elapsed) + ")";
    if (!note.empty()) out += ": " + note;
    return out;
}

void progress::update(std::size_t done, const std::string& note) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    const auto now = std::chrono::steady_clock::now();
    if (terminal_) {
        if (now - last_ < std::chrono::milliseconds(200) && done != total_) return;
        last_ = now;
        std::string text = line(done, note);
        if (text.size() > 100) text = text.substr(0, 97) + "...";
        const std::size_t pad = width_ > text.size() ? width_ - text.size() : 0;
        width_ = text.size();
        err_ << "\r" << text << std::string(pad, ' ') << std::flush;
        return;
    }
    if (now - last_ < interval_) return;
    last_ = now;
    reported_ = true;
    err_ << line(done, note) << "\n" << std::flush;
}

void progress::finish_line() {
    std::lock_guard lock(mu_);
    if (!terminal_) return;
    if (width_ > 0) err_ << "\r" << std::string(width_, ' ') << "\r" << std::flush;
    width_ = 0;
    last_ = {};  // redraw at the next update
}

void progress::finish() {
    std::lock_guard lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (terminal_ && width_ > 0) err_ << "\r" << std::string(width_, ' ') << "\r" << std::flush;
    if (!terminal_ && reported_)
        err_ << what_ << ": done in "
             << seconds_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()) << "\n"
             << std::flush;
}

}  // namespace scep::client
