#include "server/logging.hpp"

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace scep::server {
namespace {

std::string logged(bool json, const fields& f) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    event_log log(std::make_shared<spdlog::logger>("test", sink), json);
    log.info("request", f);
    return out.str();
}

TEST(event_log, client_chosen_values_cannot_forge_lines_or_send_terminal_escapes) {
    // A transactionID as a hostile client sends it.
    const std::string txid = "abc\ndate level=info msg=\"forged\"\x1b[31m\r\x7f";
    for (bool json : {false, true}) {
        SCOPED_TRACE(json ? "json" : "text");
        std::string line = logged(json, {{"txid", txid}, {"plain", "value"}});
        EXPECT_EQ(line.find('\n'), line.size() - 1) << line;  // one line, ended once
        EXPECT_EQ(line.find('\r'), std::string::npos) << line;
        EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
        EXPECT_EQ(line.find('\x7f'), std::string::npos) << line;
        EXPECT_NE(line.find("\\n"), std::string::npos) << line;
        EXPECT_NE(line.find("\\u001b"), std::string::npos) << line;
    }
    EXPECT_NE(logged(false, {{"plain", "value"}}).find(" plain=value"), std::string::npos);
    EXPECT_NE(logged(false, {{"k", "a b"}}).find(" k=\"a b\""), std::string::npos);
}

// Hardening round two: each log line carried a client's whole 60 KB
// operation value; JSON lines carried bytes that are not UTF-8.
TEST(event_log, fields_are_capped_and_json_lines_are_valid_utf8) {
    for (bool json : {false, true}) {
        SCOPED_TRACE(json ? "json" : "text");
        std::string line = logged(json, {{"op", std::string(60000, 'o')}});
        EXPECT_LT(line.size(), 1200u);
        EXPECT_NE(line.find("more bytes]"), std::string::npos) << line.substr(0, 200);
    }
    std::string line = logged(true, {{"ua", "agent\xff\xfe"}});
    EXPECT_NE(line.find("agent\xEF\xBF\xBD\xEF\xBF\xBD"), std::string::npos) << line;
}

// Issue 28: JSON lines carried every value as a string ("http":"200").
TEST(event_log, numbers_and_truth_values_stay_typed_in_json_and_read_the_same_in_text) {
    const fields f{{"http", 200}, {"ms", 1.71}, {"tls", true}, {"txid", "200"}, {"n", std::size_t{7}}};
    const std::string json = logged(true, f);
    EXPECT_NE(json.find(R"("http":200,"ms":1.71,"tls":true,"txid":"200","n":7)"), std::string::npos) << json;
    const std::string text = logged(false, f);
    EXPECT_NE(text.find("http=200 ms=1.71 tls=true txid=200 n=7"), std::string::npos) << text;
    EXPECT_EQ(log_value(0.1 + 0.2).text(), "0.30000000000000004");  // shortest exact, never 3E-1
    EXPECT_EQ(log_value(1e300 * 1e300).json(), "null");              // not a JSON number: null
}

}  // namespace
}  // namespace scep::server
