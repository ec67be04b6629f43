// server/evidence and server/iis_log: evidence through the inspector into a
// timeline (HAR and IIS lines here; captures in peer.evidence), what the
// reports make of hostile values, and the lab's own IIS log.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pki/store/transactions.hpp"
#include "server/evidence.hpp"
#include "server/iis_log.hpp"
#include "support/test_support.hpp"

namespace scep::server {
namespace {

TEST(EvidenceServer, IisStatusesAreExplained) {
    EXPECT_NE(iis_status_meaning(404, 15).find("maxQueryString"), std::string::npos);
    EXPECT_NE(iis_status_meaning(500, 19).find("web.config"), std::string::npos);
    EXPECT_NE(iis_status_meaning(503, 0).find("application pool"), std::string::npos);
    EXPECT_EQ(iis_status_meaning(200, 0), "");
    EXPECT_EQ(iis_status_meaning(404, 99), "");
}

TEST(EvidenceServer, W3cFieldsAndTheLabsIisLog) {
    EXPECT_EQ(w3c_field(""), "-");
    EXPECT_EQ(w3c_field("Mozilla/5.0 (iPhone)"), "Mozilla/5.0+(iPhone)");
    EXPECT_EQ(w3c_field(std::string("a\r\nb\x7f", 5)), "a??b?");
    test::temp_dir dir;
    auto log = iis_access_log::open(dir.path() / "iis");
    ASSERT_TRUE(log) << log.message();
    iis_line l;
    l.end = std::chrono::system_clock::time_point(std::chrono::seconds(1764930000));  // 2025-12-05T10:20:00Z
    l.server_ip = "127.0.0.1";
    l.server_port = 8080;
    l.method = "GET";
    l.uri_stem = "/certsrv/mscep/mscep.dll";
    l.uri_query = "operation=GetCACaps&message=x";
    l.client_ip = "192.0.2.7";
    l.user_agent = "Dalvik/2.1.0 (Linux; U; Android 14)";
    l.status = 404;
    l.substatus = 15;
    l.time_taken_ms = 3;
    (*log)->write(l);
    l.status = 200;
    l.substatus = 0;
    (*log)->write(l);
    std::ifstream in(dir.path() / "iis" / "u_ex251205.log");
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    EXPECT_EQ(s.find("#Software: Microsoft Internet Information Services 10.0\r\n"), 0u) << s;
    EXPECT_EQ(s.find("#Fields:"), s.rfind("#Fields:")) << "one header a file";
    EXPECT_NE(s.find("2025-12-05 10:20:00 127.0.0.1 GET /certsrv/mscep/mscep.dll operation=GetCACaps&message=x 8080 - "
                     "192.0.2.7 Dalvik/2.1.0+(Linux;+U;+Android+14) - 404 15 0 3\r\n"),
              std::string::npos)
        << s;

    // What the lab wrote reads back as evidence: two SCEP lines of one client.
    auto rows = make_memory_transactions();
    auto summary = read_evidence({dir.path() / "iis" / "u_ex251205.log"}, *rows, {}, "");
    ASSERT_TRUE(summary) << summary.message();
    ASSERT_EQ(summary->clients.size(), 1u);
    EXPECT_EQ(summary->clients[0], "192.0.2.7");
    EXPECT_EQ(summary->files[0].iis_scep, 2u);
    std::ostringstream out;
    write_evidence_text(out, *rows, *summary);
    EXPECT_NE(out.str().find("IIS 404.15"), std::string::npos) << out.str();
}

TEST(EvidenceServer, HostileValuesStayText) {
    test::temp_dir dir;
    const auto har = dir.path() / "x.har";
    std::ofstream(har) << R"({"log":{"entries":[{"startedDateTime":"2026-12-05T10:00:00Z",
      "request":{"method":"GET","url":"http://h/scep?operation=GetCACaps",
                 "headers":[{"name":"User-Agent","value":"<script>alert(1)</script>\u0007\u001b[31m"}]},
      "response":{"status":200,"headers":[{"name":"Content-Type","value":"text/plain"}],
                  "content":{"text":"POSTPKIOperation\nSHA-256\nAES\n"}}}]}})";
    auto rows = make_memory_transactions();
    auto summary = read_evidence({har}, *rows, {}, "");
    ASSERT_TRUE(summary) << summary.message();
    ASSERT_EQ(summary->clients.size(), 1u);
    std::ostringstream html, text, json;
    write_evidence_html(html, *rows, *summary);
    write_evidence_text(text, *rows, *summary);
    write_evidence_json(json, *rows, *summary);
    EXPECT_EQ(html.str().find("<script"), std::string::npos);
    EXPECT_NE(html.str().find("&lt;script&gt;"), std::string::npos);
    EXPECT_NE(html.str().find("Content-Security-Policy"), std::string::npos);
    EXPECT_EQ(text.str().find('\x1b'), std::string::npos) << "no terminal escape reaches the terminal";
    EXPECT_EQ(text.str().find('\x07'), std::string::npos);
    EXPECT_EQ(json.str().find('\x1b'), std::string::npos);
    // A file that is not evidence stops everything before any is read.
    const auto junk = dir.path() / "junk.bin";
    std::ofstream(junk) << "MZ\x90\x00 not evidence";
    auto refused = read_evidence({har, junk}, *rows, {}, "");
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("junk.bin"), std::string::npos);
}

}  // namespace
}  // namespace scep::server
