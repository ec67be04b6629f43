// HTTP/1.0 and 1.1 messages from one direction of a TCP stream, as bytes
// arrive (pipelining, Content-Length, chunked bodies, bodies that end with
// the connection). Internal to pki/evidence: the capture reader feeds it.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "pki/evidence/evidence.hpp"

namespace scep::evidence::detail {

class http_stream {
public:
    enum class role { requests, responses };
    http_stream(role r, const limits& lim) : role_(r), lim_(lim) {}

    // Bytes of the stream, in order, the first of them seen at `t` in capture packet `packet`.
    void feed(std::string_view data, time_point t, std::uint64_t packet = 0);
    // `n` bytes the capture lost: the message being read is incomplete and
    // the stream cannot be followed any further.
    void gap(std::size_t n);
    // The connection ended: a response read until close is complete, any
    // other message being read is not.
    void end();
    // A response to a HEAD has no body whatever its headers say: the
    // requests' methods, in order, for the response side.
    void expect_method(std::string method) { methods_.push_back(std::move(method)); }

    std::vector<http_message> take() { return std::exchange(done_, {}); }
    bool failed() const { return failed_; }
    const std::string& why() const { return why_; }

private:
    enum class state { head, length, chunk_size, chunk_data, chunk_end, trailers, until_close, dead };
    void parse();
    bool parse_head(std::string_view head, time_point t, std::uint64_t packet);
    void body_bytes(std::string_view data);
    void finish(bool complete);
    void fail(std::string why);

    role role_;
    const limits& lim_;
    state st_ = state::head;
    std::string buf_;  // head, chunk-size and trailer lines being read
    http_message cur_;
    bool started_ = false;
    std::size_t remaining_ = 0;
    std::deque<std::string> methods_;
    std::vector<http_message> done_;
    bool failed_ = false;
    std::string why_;
    time_point last_{};
    std::uint64_t last_packet_ = 0;
};

// True when `data` starts like an HTTP request ("GET /", "POST /", ...).
bool looks_like_request(std::string_view data);
bool looks_like_response(std::string_view data);

}  // namespace scep::evidence::detail
