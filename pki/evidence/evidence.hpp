// The evidence a customer sends (docs/evidence.md): packet captures (pcap,
// pcapng), browser HAR files, IIS W3C logs and NDES event log exports, read
// as hostile input into what happened on the wire: HTTP exchanges, TLS
// sessions that could not be read, IIS log lines, NDES events. No I/O beyond
// reading the file, no SCEP decoding: the server's inspector decodes the
// exchanges (server/evidence), as it decodes a live one.
//
// Every reader streams: memory is bounded by the limits below, not by the
// file's size, and a truncated or malformed file ends with an error that
// names the file and the byte offset (or line) where reading stopped. What
// was read before it is kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pki/crypto/result.hpp"

namespace scep::evidence {

using time_point = std::chrono::system_clock::time_point;

// Where something was read: "capture.pcapng", "packet 12 (offset 4096)".
struct place {
    std::string file;
    std::string where;
    std::string text() const { return where.empty() ? file : file + ", " + where; }
};

struct http_message {
    // A request: method, target (path and query, as sent).
    std::string method, target;
    // A response: status and reason phrase.
    int status = 0;
    std::string reason;
    int version = 11;  // 10: HTTP/1.0
    std::vector<std::pair<std::string, std::string>> headers;  // in order, as sent
    std::string body;          // de-chunked; cut at limits::max_body (body_size says how much was sent)
    std::size_t body_size = 0;
    bool chunked = false;
    bool complete = true;  // false: the capture ended, or lost bytes, inside it
    time_point time{};     // its first byte
    std::uint64_t packet = 0;  // a capture: the packet that carried its first byte
    std::string header(std::string_view name) const;  // the first with that name (case-insensitive), "" when none
    bool has_header(std::string_view name) const;
};

struct http_exchange {
    std::string client, server;  // addresses ("192.0.2.7", "::1")
    std::uint16_t client_port = 0, server_port = 0;
    http_message request;
    std::optional<http_message> response;  // none: the evidence has no answer
    bool tls = false;                      // read from inside TLS (a HAR's https URL)
    place at;
};

// A TLS connection: opened with a key log (then its HTTP is read as any
// other), or not, and why.
struct tls_session {
    std::string client, server;
    std::uint16_t client_port = 0, server_port = 0;
    std::string sni;  // the ClientHello's server name, when it had one
    time_point start{}, end{};
    std::uint64_t bytes = 0;  // TCP payload both ways
    std::string content;      // "decrypted (TLS 1.3, ...)", or why it was not
    place at;
};

// One line of an IIS W3C log (the #Fields header decides the columns).
struct iis_entry {
    time_point time{};
    std::string client, server;  // c-ip, s-ip
    std::uint16_t server_port = 0;
    std::string method, uri_stem, uri_query, user_agent, username;
    int status = 0, substatus = -1;  // sc-status, sc-substatus (-1: not logged)
    std::optional<std::uint32_t> win32_status;
    int time_taken_ms = -1;
    place at;
};

// One NDES (or CAPI2) event from an event log export.
struct ndes_event {
    time_point time{};
    int id = 0;
    std::string level, source, task, text;
    place at;
};

// What a reader hands on, as it reads.
class sink {
public:
    virtual ~sink() = default;
    virtual void exchange(http_exchange&& x) = 0;
    virtual void tls(tls_session&&) {}
    virtual void iis(iis_entry&&) {}
    virtual void event(ndes_event&&) {}
    // Something the reader could not use and the reader of the report should know.
    virtual void note(const place&, std::string) {}
};

class tls_key_log;  // pki/evidence/tls_decrypt.hpp

struct limits {
    std::size_t max_body = 4u << 20;          // bytes kept of one HTTP body (the rest counted)
    std::size_t max_headers = 64u << 10;      // an HTTP head larger than this is not HTTP
    std::size_t max_packet = 256u << 10;      // a captured packet larger than this ends the read
    std::size_t max_block = 16u << 20;        // a pcapng block larger than this ends the read
    std::size_t max_connections = 4096;       // live TCP connections followed at once
    std::size_t max_out_of_order = 1u << 20;  // bytes waiting for a gap to fill, per direction
    std::size_t max_line = 64u << 10;         // a log line longer than this ends the read
    std::size_t max_document = 256u << 20;    // a HAR (one JSON document) larger than this is refused
    // Not a limit: session secrets (SSLKEYLOGFILE) that open TLS in captures.
    const tls_key_log* tls_keys = nullptr;
};

enum class file_kind { pcap, pcapng, har, iis_log, ndes_events, evtx, unknown };
std::string_view to_string(file_kind k);

// The kind of a file from its first bytes (up to 4 KiB is enough), never its name.
file_kind detect(std::string_view head);

// The readers. Each returns what it read the file as, or an error naming
// the file and offset; the sink has what came before the error.
result<void> read_capture(std::istream& in, const std::string& name, sink& out, const limits& lim = {});
result<void> read_har(std::istream& in, const std::string& name, sink& out, const limits& lim = {});
result<void> read_iis_log(std::istream& in, const std::string& name, sink& out, const limits& lim = {});
result<void> read_ndes_events(std::istream& in, const std::string& name, sink& out, const limits& lim = {});
// EVTX is read from a file (libevtx opens it itself).
result<void> read_evtx(const std::filesystem::path& file, const std::string& name, sink& out, const limits& lim = {});

// Detects the kind and reads with the matching reader.
result<file_kind> read_file(const std::filesystem::path& file, sink& out, const limits& lim = {});
result<file_kind> read_stream(std::istream& in, const std::string& name, sink& out, const limits& lim = {});

// "2026-12-05T10:11:12.345Z"
std::string iso8601(time_point t);

}  // namespace scep::evidence
