// pki/evidence: captures built here byte by byte (pcap and pcapng, IPv4 and
// IPv6, out of order, retransmitted, lost), HTTP framing, HAR, IIS W3C
// logs, event log exports, dates; every damaged file ends with its offset.
#include <gtest/gtest.h>

#include <sstream>

#include "pki/evidence/evidence.hpp"
#include "pki/evidence/http_stream.hpp"
#include "pki/evidence/text_time.hpp"
#include "pki/evidence/tls_decrypt.hpp"

namespace scep::evidence {
namespace {

struct collect final : sink {
    std::vector<http_exchange> x;
    std::vector<tls_session> t;
    std::vector<iis_entry> iis_lines;
    std::vector<ndes_event> events;
    std::vector<std::string> notes;
    void exchange(http_exchange&& e) override { x.push_back(std::move(e)); }
    void tls(tls_session&& s) override { t.push_back(std::move(s)); }
    void iis(iis_entry&& e) override { iis_lines.push_back(std::move(e)); }
    void event(ndes_event&& e) override { events.push_back(std::move(e)); }
    void note(const place& at, std::string text) override { notes.push_back(at.text() + ": " + text); }
};

void put16(std::string& s, unsigned v) {
    s += static_cast<char>(v >> 8);
    s += static_cast<char>(v & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
    put16(s, v >> 16);
    put16(s, v & 0xFFFF);
}
void le32(std::string& s, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void le16(std::string& s, unsigned v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>(v >> 8);
}

enum flags : std::uint8_t { FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16 };

// An Ethernet/IPv4 (or IPv6)/TCP frame.
std::string frame(bool v6, const std::string& src, const std::string& dst, unsigned sport, unsigned dport,
                  std::uint32_t seq, std::uint8_t f, const std::string& payload) {
    std::string tcp;
    put16(tcp, sport);
    put16(tcp, dport);
    put32(tcp, seq);
    put32(tcp, 0);
    tcp += static_cast<char>(5 << 4);
    tcp += static_cast<char>(f);
    put16(tcp, 65535);
    put16(tcp, 0);
    put16(tcp, 0);
    tcp += payload;
    std::string eth(12, '\x02');
    std::string ip;
    if (!v6) {
        put16(eth, 0x0800);
        ip += '\x45';
        ip += '\0';
        put16(ip, static_cast<unsigned>(20 + tcp.size()));
        put32(ip, 0);
        ip += '\x40';
        ip += '\x06';
        put16(ip, 0);
        unsigned a, b, c, d;
        std::sscanf(src.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d);
        ip += {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
        std::sscanf(dst.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d);
        ip += {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
    } else {
        put16(eth, 0x86dd);
        put32(ip, 0x60000000);
        put16(ip, static_cast<unsigned>(tcp.size()));
        ip += '\x06';
        ip += '\x40';
        std::string a(16, '\0'), b(16, '\0');
        a[15] = src == "::1" ? 1 : 2;
        b[15] = dst == "::1" ? 1 : 2;
        ip += a + b;
    }
    return eth + ip + tcp;
}

struct capture_builder {
    std::vector<std::pair<std::uint64_t, std::string>> frames;  // microseconds, bytes
    std::uint64_t now = 1764930000000000ull;                   // 2025-12-05T10:20:00Z
    std::uint32_t cseq = 1000, sseq = 5000;
    std::string client = "192.0.2.10", server = "198.51.100.5";
    unsigned cport = 50000, sport = 80;
    bool v6 = false;
    void add(bool from_client, std::uint8_t f, const std::string& payload, std::uint32_t seq_override = 0,
             bool advance = true) {
        auto& seq = from_client ? cseq : sseq;
        const std::uint32_t s = seq_override ? seq_override : seq;
        frames.emplace_back(now, from_client ? frame(v6, client, server, cport, sport, s, f, payload)
                                             : frame(v6, server, client, sport, cport, s, f, payload));
        now += 1000;
        if (advance && !seq_override) seq += static_cast<std::uint32_t>(payload.size()) + ((f & (SYN | FIN)) ? 1 : 0);
    }
    void handshake() {
        add(true, SYN, "");
        add(false, SYN | ACK, "");
        add(true, ACK, "");
    }
    void close() {
        add(true, FIN | ACK, "");
        add(false, FIN | ACK, "");
    }
    std::string pcap() const {
        std::string s;
        le32(s, 0xa1b2c3d4);
        le16(s, 2);
        le16(s, 4);
        le32(s, 0);
        le32(s, 0);
        le32(s, 262144);
        le32(s, 1);  // Ethernet
        for (const auto& [t, f] : frames) {
            le32(s, static_cast<std::uint32_t>(t / 1000000));
            le32(s, static_cast<std::uint32_t>(t % 1000000));
            le32(s, static_cast<std::uint32_t>(f.size()));
            le32(s, static_cast<std::uint32_t>(f.size()));
            s += f;
        }
        return s;
    }
    // pcapng with nanosecond timestamps (if_tsresol 9).
    std::string pcapng() const {
        std::string s;
        auto block = [&](std::uint32_t type, const std::string& body) {
            std::string padded = body;
            while (padded.size() % 4) padded += '\0';
            le32(s, type);
            le32(s, static_cast<std::uint32_t>(padded.size() + 12));
            s += padded;
            le32(s, static_cast<std::uint32_t>(padded.size() + 12));
        };
        std::string shb;
        le32(shb, 0x1A2B3C4D);
        le16(shb, 1);
        le16(shb, 0);
        le32(shb, 0xFFFFFFFF);
        le32(shb, 0xFFFFFFFF);
        block(0x0A0D0D0A, shb);
        std::string idb;
        le16(idb, 1);
        le16(idb, 0);
        le32(idb, 262144);
        le16(idb, 9);  // if_tsresol
        le16(idb, 1);
        idb += '\x09';
        idb += std::string(3, '\0');
        le16(idb, 0);
        le16(idb, 0);
        block(1, idb);
        for (const auto& [t, f] : frames) {
            std::string epb;
            le32(epb, 0);
            const std::uint64_t ns = t * 1000;
            le32(epb, static_cast<std::uint32_t>(ns >> 32));
            le32(epb, static_cast<std::uint32_t>(ns & 0xFFFFFFFF));
            le32(epb, static_cast<std::uint32_t>(f.size()));
            le32(epb, static_cast<std::uint32_t>(f.size()));
            epb += f;
            block(6, epb);
        }
        return s;
    }
};

collect read(const std::string& bytes, result<void>* status = nullptr) {
    collect c;
    std::istringstream in(bytes);
    auto r = read_capture(in, "test.pcap", c);
    if (status) *status = r;
    else EXPECT_TRUE(r) << r.message();
    return c;
}

const std::string get_req = "GET /cgi-bin/pkiclient.exe?operation=GetCACaps HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";
const std::string caps_resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nPOSTPKIOperat";

TEST(EvidenceCapture, PairsRequestsAndResponsesOnAKeepAliveConnection) {
    for (bool v6 : {false, true}) {
        capture_builder b;
        b.v6 = v6;
        if (v6) b.client = "::1", b.server = "::2";
        b.handshake();
        b.add(true, PSH | ACK, get_req);
        b.add(false, PSH | ACK, caps_resp);
        // The second answer is chunked and comes in two segments.
        b.add(true, PSH | ACK, "POST /cgi-bin/pkiclient.exe?operation=PKIOperation HTTP/1.1\r\nContent-Length: 4\r\n\r\n\x30\x03\x02\x01");
        b.add(false, PSH | ACK, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
        b.add(false, PSH | ACK, "2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n");
        b.close();
        for (const auto& bytes : {b.pcap(), b.pcapng()}) {
            auto c = read(bytes);
            ASSERT_EQ(c.x.size(), 2u);
            EXPECT_EQ(c.x[0].client, v6 ? "::1" : "192.0.2.10");
            EXPECT_EQ(c.x[0].server, v6 ? "::2" : "198.51.100.5");
            EXPECT_EQ(c.x[0].client_port, 50000);
            EXPECT_EQ(c.x[0].request.method, "GET");
            EXPECT_EQ(c.x[0].request.target, "/cgi-bin/pkiclient.exe?operation=GetCACaps");
            EXPECT_EQ(c.x[0].request.header("user-agent"), "t");
            ASSERT_TRUE(c.x[0].response);
            EXPECT_EQ(c.x[0].response->body, "POSTPKIOperat");
            EXPECT_EQ(c.x[1].request.body, std::string("\x30\x03\x02\x01", 4));
            ASSERT_TRUE(c.x[1].response);
            EXPECT_TRUE(c.x[1].response->chunked);
            EXPECT_EQ(c.x[1].response->body, "abcde");
            EXPECT_TRUE(c.x[1].response->complete);
            EXPECT_EQ(iso8601(c.x[0].request.time), "2025-12-05T10:20:00.003Z");
            // Each exchange names the packet its request began in (Wireshark's numbering).
            EXPECT_EQ(c.x[0].at.where, "packet 4");
            EXPECT_EQ(c.x[1].at.where, "packet 6");
        }
    }
}

TEST(EvidenceCapture, ReordersRetransmitsAndReportsLostBytes) {
    capture_builder b;
    b.handshake();
    // The request's second half arrives first, then the first half twice.
    const std::string first = get_req.substr(0, 20), second = get_req.substr(20);
    b.add(true, PSH | ACK, second, b.cseq + 20);
    b.add(true, PSH | ACK, first, 0, false);
    b.add(true, PSH | ACK, first);
    b.cseq += static_cast<std::uint32_t>(second.size());
    b.add(false, PSH | ACK, caps_resp);
    b.close();
    auto c = read(b.pcap());
    ASSERT_EQ(c.x.size(), 1u);
    EXPECT_EQ(c.x[0].request.target, "/cgi-bin/pkiclient.exe?operation=GetCACaps");
    ASSERT_TRUE(c.x[0].response);
    EXPECT_EQ(c.x[0].response->status, 200);

    // Bytes the capture never had: the response is incomplete, the stream stops.
    capture_builder lost;
    lost.handshake();
    lost.add(true, PSH | ACK, get_req);
    lost.add(false, PSH | ACK, caps_resp.substr(0, 50));
    lost.sseq += 10;  // ten bytes never captured
    lost.add(false, PSH | ACK, caps_resp.substr(60));
    lost.close();
    auto d = read(lost.pcap());
    ASSERT_EQ(d.x.size(), 1u);
    ASSERT_TRUE(d.x[0].response);
    EXPECT_FALSE(d.x[0].response->complete);
}

TEST(EvidenceCapture, AConnectionWithoutAnswerAndTlsSessions) {
    capture_builder b;
    b.add(true, PSH | ACK, get_req);  // no handshake captured: the capture began mid-connection
    b.add(true, FIN | ACK, "");
    capture_builder t;
    t.sport = 443;
    t.cport = 50001;
    t.handshake();
    // A ClientHello with server_name "ndes.example".
    std::string sni = "ndes.example";
    std::string ext;
    put16(ext, 0);
    put16(ext, static_cast<unsigned>(sni.size() + 5));
    put16(ext, static_cast<unsigned>(sni.size() + 3));
    ext += '\0';
    put16(ext, static_cast<unsigned>(sni.size()));
    ext += sni;
    std::string hello;
    put16(hello, 0x0303);
    hello += std::string(32, 'r');
    hello += '\0';
    put16(hello, 2);
    put16(hello, 0x1301);
    hello += '\x01';
    hello += '\0';
    put16(hello, static_cast<unsigned>(ext.size()));
    hello += ext;
    std::string hs = "\x01";
    hs += '\0';
    put16(hs, static_cast<unsigned>(hello.size()));
    hs += hello;
    std::string rec = "\x16\x03\x01";
    put16(rec, static_cast<unsigned>(hs.size()));
    rec += hs;
    t.add(true, PSH | ACK, rec);
    t.add(false, PSH | ACK, "\x16\x03\x03\x00\x02\x02\x00");
    t.close();
    for (auto& f : t.frames) b.frames.push_back(f);
    auto c = read(b.pcap());
    ASSERT_EQ(c.x.size(), 1u);
    EXPECT_FALSE(c.x[0].response);
    ASSERT_EQ(c.t.size(), 1u);
    EXPECT_EQ(c.t[0].sni, "ndes.example");
    EXPECT_EQ(c.t[0].server_port, 443);
}

TEST(EvidenceCapture, DamagedFilesNameTheOffset) {
    capture_builder b;
    b.handshake();
    b.add(true, PSH | ACK, get_req);
    b.add(false, PSH | ACK, caps_resp);
    b.close();
    const std::string whole = b.pcap();
    result<void> r;
    auto c = read(whole.substr(0, whole.size() - 30), &r);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("offset"), std::string::npos) << r.message();
    EXPECT_EQ(c.x.size(), 1u);  // what came before the damage is kept
    std::string huge = whole.substr(0, 24);
    le32(huge, 0);
    le32(huge, 0);
    le32(huge, 0x7FFFFFFF);
    le32(huge, 0x7FFFFFFF);
    read(huge, &r);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("packet 1 at offset 24"), std::string::npos) << r.message();
    const std::string ng = b.pcapng();
    read(ng.substr(0, ng.size() - 7), &r);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("offset"), std::string::npos) << r.message();
    read("not a capture at all", &r);
    ASSERT_FALSE(r);
    read("", &r);
    ASSERT_FALSE(r);
}

TEST(EvidenceHttp, FramingCases) {
    limits lim;
    detail::http_stream req(detail::http_stream::role::requests, lim), res(detail::http_stream::role::responses, lim);
    req.feed("HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n", {});
    auto got = req.take();
    ASSERT_EQ(got.size(), 2u);
    for (auto& m : got) res.expect_method(m.method);
    EXPECT_EQ(got[1].version, 10);
    // 100 Continue answers nothing; a HEAD answer has no body; the last ends with the connection.
    res.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody", {});
    res.feed(" more", {});
    res.end();
    auto answers = res.take();
    ASSERT_EQ(answers.size(), 2u);
    EXPECT_TRUE(answers[0].body.empty());
    EXPECT_EQ(answers[1].body, "body more");
    EXPECT_TRUE(answers[1].complete);
    // Bodies are cut at max_body and counted.
    limits small;
    small.max_body = 4;
    detail::http_stream cut(detail::http_stream::role::requests, small);
    cut.feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", {});
    auto c = cut.take();
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].body, "0123");
    EXPECT_EQ(c[0].body_size, 10u);
    // Not HTTP, a bad length, a bad chunk: the stream stops with the reason.
    for (std::string bad : {"\x16\x03\x01 junk\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                            "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
        detail::http_stream s(detail::http_stream::role::requests, lim);
        s.feed(bad, {});
        EXPECT_TRUE(s.failed()) << bad;
        EXPECT_FALSE(s.why().empty());
    }
    detail::http_stream endless(detail::http_stream::role::requests, small);
    endless.feed(std::string(lim.max_headers + 10, 'A'), {});
    EXPECT_TRUE(endless.failed());
}

TEST(EvidenceHar, EntriesWithBase64Bodies) {
    const std::string har = R"({"log":{"version":"1.2","entries":[
      {"startedDateTime":"2026-12-05T10:11:12.345+01:00","serverIPAddress":"[2001:db8::1]",
       "request":{"method":"GET","url":"https://ndes.example:8443/certsrv/mscep/mscep.dll?operation=GetCACert&message=x#frag",
                  "httpVersion":"HTTP/1.1","headers":[{"name":"User-Agent","value":"ua"}]},
       "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],
                   "content":{"size":3,"mimeType":"application/x-x509-ca-cert","text":"MAMCAQ==","encoding":"base64"}}},
      {"startedDateTime":"bad"},
      {"startedDateTime":"2026-12-05T10:11:13Z","request":{"method":"POST","url":"http://h/x","postData":{"mimeType":"application/x-pki-message","text":"\ufffd"}},"response":{"status":0}}
    ]}})";
    collect c;
    std::istringstream in(har);
    auto r = read_har(in, "/tmp/x.har", c);
    ASSERT_TRUE(r) << r.message();
    ASSERT_EQ(c.x.size(), 2u);
    EXPECT_EQ(c.x[0].server, "2001:db8::1");
    EXPECT_EQ(c.x[0].server_port, 8443);
    EXPECT_TRUE(c.x[0].tls);
    EXPECT_EQ(c.x[0].client, "har:x.har");
    EXPECT_EQ(c.x[0].request.target, "/certsrv/mscep/mscep.dll?operation=GetCACert&message=x");
    EXPECT_EQ(iso8601(c.x[0].request.time), "2026-12-05T09:11:12.345Z");
    ASSERT_TRUE(c.x[0].response);
    EXPECT_EQ(c.x[0].response->body, std::string("\x30\x03\x02\x01", 4));
    EXPECT_FALSE(c.x[1].response);  // status 0: no answer
    EXPECT_EQ(c.notes.size(), 2u);  // the entry without a time, the body kept as text
    std::istringstream not_har("{\"a\":1}");
    EXPECT_FALSE(read_har(not_har, "n.json", c));
    std::istringstream broken("{\"log\":");
    EXPECT_FALSE(read_har(broken, "b.json", c));
}

TEST(EvidenceIis, FieldsHeaderDecidesTheColumns) {
    const std::string log =
        "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2026-12-05 10:00:00\r\n"
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
        "cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n"
        "2026-12-05 10:00:01 10.0.0.5 GET /certsrv/mscep/mscep.dll/pkiclient.exe operation=GetCACaps&message=CA 443 - "
        "192.0.2.10 Mozilla/5.0+(iPhone) - 200 0 0 15\r\n"
        "2026-12-05 10:00:02 10.0.0.5 GET /certsrv/mscep/mscep.dll/pkiclient.exe operation=PKIOperation&message=MIIx "
        "443 - 192.0.2.10 - - 404 15 0 1\r\n"
        "a short line\r\n"
        "#Fields: time c-ip cs-method cs-uri-stem sc-status\r\n"
        "10:00:03 192.0.2.11 POST /x 500\r\n";
    collect c;
    std::istringstream in(log);
    auto r = read_iis_log(in, "u_ex261205.log", c);
    ASSERT_TRUE(r) << r.message();
    ASSERT_EQ(c.iis_lines.size(), 3u);
    EXPECT_EQ(c.iis_lines[0].user_agent, "Mozilla/5.0 (iPhone)");
    EXPECT_EQ(c.iis_lines[0].server_port, 443);
    EXPECT_EQ(c.iis_lines[0].uri_query, "operation=GetCACaps&message=CA");
    EXPECT_EQ(c.iis_lines[1].status, 404);
    EXPECT_EQ(c.iis_lines[1].substatus, 15);
    EXPECT_EQ(c.iis_lines[1].at.where, "line 6");
    EXPECT_EQ(iso8601(c.iis_lines[2].time), "2026-12-05T10:00:03.000Z");  // the #Date directive's day
    EXPECT_EQ(c.iis_lines[2].substatus, -1);
    EXPECT_EQ(c.notes.size(), 1u);
    std::istringstream headless("2026-12-05 10:00:01 GET / 200\n");
    r = read_iis_log(headless, "x.log", c);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("line 1"), std::string::npos);
    limits lim;
    lim.max_line = 100;
    std::istringstream longline("#Fields: date\n" + std::string(500, 'x'));
    r = read_iis_log(longline, "x.log", c, lim);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("line 2"), std::string::npos) << r.message();
}

TEST(EvidenceEvents, TextAndCsvExports) {
    const std::string text =
        "Level\tDate and Time\tSource\tEvent ID\tTask Category\n"
        "Error\t12/5/2026 10:00:02 AM\tMicrosoft-Windows-NetworkDeviceEnrollmentService\t29\tNone\tThe password in the "
        "certificate request cannot be verified.\n"
        "Error\t2026-12-05T10:00:03Z\tNDES\tx\tNone\tno id\n";
    collect c;
    std::istringstream in(text);
    auto r = read_ndes_events(in, "events.txt", c);
    ASSERT_TRUE(r) << r.message();
    ASSERT_EQ(c.events.size(), 1u);
    EXPECT_EQ(c.events[0].id, 29);
    EXPECT_EQ(iso8601(c.events[0].time), "2026-12-05T10:00:02.000Z");
    EXPECT_NE(c.events[0].text.find("cannot be verified"), std::string::npos);
    EXPECT_EQ(c.notes.size(), 1u);
    const std::string csv = "Level,Date and Time,Source,Event ID,Task Category\r\n"
                            "Error,05.12.2026 22:00:02,Microsoft-Windows-NetworkDeviceEnrollmentService,28,None,\"two\r\n"
                            "lines, \"\"quoted\"\"\"\r\n";
    collect d;
    std::istringstream cin(csv);
    r = read_ndes_events(cin, "events.csv", d);
    ASSERT_TRUE(r) << r.message();
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].text, "two\nlines, \"quoted\"");
    EXPECT_EQ(iso8601(d.events[0].time), "2026-12-05T22:00:02.000Z");
    std::istringstream open_quote("Level,Date and Time,Source,Event ID\nError,2026-12-05 10:00:00,S,1,\"never closed\n");
    EXPECT_FALSE(read_ndes_events(open_quote, "q.csv", d));
}

TEST(EvidenceTls, KeyLogAndWhatCannotBeOpened) {
    const std::string random(64, 'a');
    std::istringstream in("# comment\nCLIENT_RANDOM " + random + " " + std::string(96, '0') + "\r\n" +
                          "SERVER_TRAFFIC_SECRET_0 " + random + " " + std::string(64, 'F') + "\n" +
                          "CLIENT_RANDOM zz 00\nCLIENT_RANDOM " + random + "\nnot a line\n");
    auto log = tls_key_log::read(in, "keys.log");
    ASSERT_TRUE(log) << log.message();
    EXPECT_EQ(log->size(), 2u);
    const std::string raw(32, '\xaa');
    ASSERT_NE(log->find("CLIENT_RANDOM", raw), nullptr);
    EXPECT_EQ(log->find("CLIENT_RANDOM", raw)->size(), 48u);
    EXPECT_EQ(log->find("CLIENT_HANDSHAKE_TRAFFIC_SECRET", raw), nullptr);
    std::istringstream long_line(std::string(2000, 'a'));
    auto bad = tls_key_log::read(long_line, "k");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("line 1"), std::string::npos);
    // Bytes that are not TLS, and a session whose secrets are not logged.
    detail::tls_decryptor junk(*log);
    std::string plain;
    junk.feed(0, "GET / HTTP/1.1\r\n\r\n", plain);
    EXPECT_TRUE(plain.empty());
    EXPECT_NE(junk.status().find("not a TLS record"), std::string::npos) << junk.status();
    detail::tls_decryptor quiet(*log);
    EXPECT_NE(quiet.status().find("no ClientHello"), std::string::npos) << quiet.status();
}

TEST(EvidenceTime, FormsAndRejects) {
    EXPECT_EQ(iso8601(*parse_text_time("2026-12-05 10:11:12")), "2026-12-05T10:11:12.000Z");
    EXPECT_EQ(iso8601(*parse_text_time("2026-12-05T10:11:12.5-02:30")), "2026-12-05T12:41:12.500Z");
    EXPECT_EQ(iso8601(*parse_text_time("1/2/2026 12:00:00 AM")), "2026-01-02T00:00:00.000Z");
    EXPECT_EQ(iso8601(*parse_text_time("1/2/2026 12:30:00 PM")), "2026-01-02T12:30:00.000Z");
    // The clock holds nanoseconds in 64 bits: a damaged file's year 9999 is refused, not overflowed.
    for (const char* bad : {"9999-12-31 23:59:59", "2263-01-01T00:00:00Z", "", "x", "2026-13-01 00:00:00", "2026-12-05", "2026-12-05 25:00:00", "13:00 PM",
                            "1/2/2026 13:00:00 PM", "2026-12-05 10:11:12 junk"})
        EXPECT_FALSE(parse_text_time(bad)) << bad;
}

TEST(EvidenceDetect, ByContentNotName) {
    EXPECT_EQ(detect(std::string("\xd4\xc3\xb2\xa1", 4)), file_kind::pcap);
    EXPECT_EQ(detect(std::string("\x0a\x0d\x0d\x0a", 4)), file_kind::pcapng);
    EXPECT_EQ(detect("\xEF\xBB\xBF{\n \"log\": {}}"), file_kind::har);
    EXPECT_EQ(detect("#Software: Microsoft Internet Information Services 10.0\n"), file_kind::iis_log);
    EXPECT_EQ(detect("Level\tDate and Time\tSource\tEvent ID\tTask Category\n"), file_kind::ndes_events);
    EXPECT_EQ(detect(std::string("ElfFile\0", 8)), file_kind::evtx);
    EXPECT_EQ(detect("MIIB"), file_kind::unknown);
    EXPECT_EQ(detect(std::string("\x30\x82", 2)), file_kind::unknown);
}

}  // namespace
}  // namespace scep::evidence
