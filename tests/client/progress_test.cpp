#include "client/progress.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

namespace scep::client {
namespace {

// In a log: nothing before the interval, then one line with the counter and
// what runs, and a closing line saying how long it took.
TEST(progress, a_log_gets_a_line_per_interval_and_the_total_time) {
    std::ostringstream err;
    {
        progress p("conformance", 47, err, std::chrono::seconds(0), progress::style::log);
        p.update(3, "pending-forever");
    }
    const std::string text = err.str();
    EXPECT_NE(text.find("conformance 3/47"), std::string::npos) << text;
    EXPECT_NE(text.find(": pending-forever\n"), std::string::npos) << text;
    EXPECT_NE(text.find("conformance: done in "), std::string::npos) << text;
    EXPECT_EQ(text.find('\r'), std::string::npos) << text;

    std::ostringstream quiet;
    {
        progress p("bench", 100, quiet, std::chrono::seconds(15), progress::style::log);
        for (std::size_t i = 1; i <= 100; ++i) p.update(i);
    }
    EXPECT_EQ(quiet.str(), "") << "a short job says nothing in a log";
}

// On a terminal: one line redrawn in place (carriage returns, no newline),
// with the time left once some items are done; finish() clears it.
TEST(progress, a_terminal_gets_one_redrawn_line_with_the_time_left) {
    std::ostringstream err;
    progress p("bench: generating rsa2048 keys", 100, err, std::chrono::seconds(15), progress::style::terminal);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    p.update(50);
    const std::string shown = err.str();
    EXPECT_EQ(shown.front(), '\r');
    EXPECT_NE(shown.find("50/100, about 1 s left"), std::string::npos) << shown;
    EXPECT_EQ(shown.find('\n'), std::string::npos) << shown;
    p.finish();
    const std::string after = err.str().substr(shown.size());
    EXPECT_EQ(after.find_first_not_of(" \r"), std::string::npos) << "finish() only clears: " << after;
}

}  // namespace
}  // namespace scep::client
