#include "pki/evidence/http_stream.hpp"

#include <algorithm>
#include <charconv>

#include "pki/crypto/encoding.hpp"

namespace scep::evidence {

std::string http_message::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (ascii_iequals(k, name)) return v;
    return {};
}

bool http_message::has_header(std::string_view name) const {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return ascii_iequals(h.first, name); });
}

namespace detail {

namespace {

bool is_token_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// The end of a head: after "\r\n\r\n" (or "\n\n", which lenient peers send).
std::size_t head_end(std::string_view buf) {
    for (std::size_t i = 0; i < buf.size(); ++i) {
        if (buf[i] != '\n') continue;
        if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
        if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    }
    return std::string_view::npos;
}

}  // namespace

bool looks_like_request(std::string_view data) {
    std::size_t n = 0;
    while (n < data.size() && n < 16 && data[n] >= 'A' && data[n] <= 'Z') ++n;
    return n >= 3 && n < data.size() && data[n] == ' ';
}

bool looks_like_response(std::string_view data) { return data.starts_with("HTTP/1."); }

void http_stream::fail(std::string why) {
    failed_ = true;
    why_ = std::move(why);
    st_ = state::dead;
    buf_.clear();
    buf_.shrink_to_fit();
}

bool http_stream::parse_head(std::string_view head, time_point t, std::uint64_t packet) {
    cur_ = http_message{};
    cur_.time = t;
    cur_.packet = packet;
    auto eol = head.find('\n');
    std::string_view line = trim(head.substr(0, eol));
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 1);
    if (role_ == role::requests) {
        auto sp1 = line.find(' ');
        auto sp2 = line.rfind(' ');
        if (sp1 == std::string_view::npos || sp2 == sp1) {
            fail("a request line without a method, target and version");
            return false;
        }
        std::string_view method = line.substr(0, sp1), version = line.substr(sp2 + 1);
        if (!std::all_of(method.begin(), method.end(), is_token_char) || !version.starts_with("HTTP/1.")) {
            fail("not an HTTP/1.x request line");
            return false;
        }
        cur_.method = std::string(method);
        cur_.target = std::string(trim(line.substr(sp1 + 1, sp2 - sp1 - 1)));
        cur_.version = version == "HTTP/1.0" ? 10 : 11;
    } else {
        if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') {
            fail("not an HTTP/1.x status line");
            return false;
        }
        cur_.version = line.substr(0, 8) == "HTTP/1.0" ? 10 : 11;
        int status = 0;
        auto digits = line.substr(9, 3);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
        if (ec != std::errc() || p != digits.data() + 3 || status < 100) {
            fail("a status line without a three-digit status");
            return false;
        }
        cur_.status = status;
        cur_.reason = std::string(trim(line.substr(std::min<std::size_t>(12, line.size()))));
    }
    while (!head.empty()) {
        eol = head.find('\n');
        std::string_view h = head.substr(0, eol);
        head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 1);
        if (!h.empty() && h.back() == '\r') h.remove_suffix(1);
        if (h.empty()) break;
        if ((h.front() == ' ' || h.front() == '\t') && !cur_.headers.empty()) {  // obsolete line folding
            cur_.headers.back().second += " " + std::string(trim(h));
            continue;
        }
        auto colon = h.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            fail("a header line without a name and ':'");
            return false;
        }
        if (cur_.headers.size() >= 256) {
            fail("more than 256 header lines");
            return false;
        }
        cur_.headers.emplace_back(std::string(trim(h.substr(0, colon))), std::string(trim(h.substr(colon + 1))));
    }
    // RFC 9112 §6.3: how the body ends.
    bool head_response = false;
    if (role_ == role::responses && cur_.status >= 200) {
        if (!methods_.empty()) {
            head_response = methods_.front() == "HEAD";
            methods_.pop_front();
        }
    }
    const std::string te = cur_.header("Transfer-Encoding");
    const std::string cl = cur_.header("Content-Length");
    if (role_ == role::responses && (cur_.status < 200 || cur_.status == 204 || cur_.status == 304 || head_response)) {
        st_ = state::head;
        finish(true);
        return true;
    }
    if (!te.empty() && ascii_iequals(trim(te.substr(te.rfind(',') == std::string::npos ? 0 : te.rfind(',') + 1)), "chunked")) {
        cur_.chunked = true;
        st_ = state::chunk_size;
        return true;
    }
    if (!cl.empty()) {
        std::uint64_t n = 0;
        auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), n);
        if (ec != std::errc() || p != cl.data() + cl.size()) {
            fail("a Content-Length that is not a number: \"" + printable_text(cl, 40, '?') + "\"");
            return false;
        }
        remaining_ = static_cast<std::size_t>(n);
        if (remaining_ == 0) {
            finish(true);
            return true;
        }
        st_ = state::length;
        return true;
    }
    if (role_ == role::requests) {  // a request without a length has no body
        finish(true);
        return true;
    }
    st_ = state::until_close;
    return true;
}

void http_stream::body_bytes(std::string_view data) {
    cur_.body_size += data.size();
    if (cur_.body.size() < lim_.max_body)
        cur_.body.append(data.substr(0, std::min(data.size(), lim_.max_body - cur_.body.size())));
}

void http_stream::finish(bool complete) {
    cur_.complete = complete;
    if (!(role_ == role::responses && cur_.status >= 100 && cur_.status < 200))  // 100 Continue answers nothing
        done_.push_back(std::move(cur_));
    cur_ = http_message{};
    started_ = false;
    st_ = state::head;
}

void http_stream::feed(std::string_view data, time_point t, std::uint64_t packet) {
    if (st_ == state::dead || data.empty()) return;
    last_ = t;
    last_packet_ = packet;
    buf_.append(data);
    parse();
}

// Everything arrives in buf_; each state takes what it needs from the front.
// Body bytes leave at once, so buf_ holds at most one head (bounded) and one
// packet's worth of bytes.
void http_stream::parse() {
    std::size_t pos = 0;
    auto next_line = [&](std::string_view rest, std::string_view& line) {
        auto eol = rest.find('\n');
        if (eol == std::string_view::npos) return std::string_view::npos;
        line = rest.substr(0, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return eol + 1;
    };
    while (st_ != state::dead) {
        std::string_view rest(buf_.data() + pos, buf_.size() - pos);
        if (rest.empty()) break;
        if (st_ == state::head) {
            if (!started_) {
                // Blank lines between messages are ignored (RFC 9112 §2.2).
                while (!rest.empty() && (rest.front() == '\r' || rest.front() == '\n')) {
                    rest.remove_prefix(1);
                    ++pos;
                }
                if (rest.empty()) break;
                started_ = true;
                cur_.time = last_;
                cur_.packet = last_packet_;
            }
            auto end = head_end(rest);
            if (end == std::string_view::npos || end > lim_.max_headers) {
                if (rest.size() > lim_.max_headers)
                    fail("an HTTP head longer than " + std::to_string(lim_.max_headers) + " bytes");
                break;
            }
            if (!parse_head(rest.substr(0, end), cur_.time, cur_.packet)) return;
            pos += end;
        } else if (st_ == state::length || st_ == state::chunk_data) {
            const auto n = std::min(remaining_, rest.size());
            body_bytes(rest.substr(0, n));
            pos += n;
            remaining_ -= n;
            if (remaining_ == 0) {
                if (st_ == state::length) finish(true);
                else st_ = state::chunk_end;
            }
        } else if (st_ == state::until_close) {
            body_bytes(rest);
            pos = buf_.size();
        } else {
            std::string_view line;
            auto used = next_line(rest, line);
            if (used == std::string_view::npos) {
                if (rest.size() > 4096) fail("a chunk-size or trailer line longer than 4096 bytes");
                break;
            }
            pos += used;
            if (st_ == state::chunk_end) {
                if (!line.empty()) fail("chunk data not followed by CRLF");
                else st_ = state::chunk_size;
            } else if (st_ == state::trailers) {
                if (line.empty()) finish(true);
            } else {
                std::string_view size = trim(line.substr(0, line.find(';')));
                std::uint64_t n = 0;
                auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), n, 16);
                if (size.empty() || ec != std::errc() || p != size.data() + size.size()) {
                    fail("a chunk size that is not hexadecimal: \"" + printable_text(size, 40, '?') + "\"");
                } else if (n == 0) {
                    st_ = state::trailers;
                } else {
                    remaining_ = static_cast<std::size_t>(n);
                    st_ = state::chunk_data;
                }
            }
        }
    }
    if (st_ != state::dead) buf_.erase(0, pos);
}

void http_stream::gap(std::size_t n) {
    if (st_ == state::dead) return;
    if (started_ || st_ != state::head) finish(false);
    fail("the capture lost " + std::to_string(n) + " bytes of this stream");
}

void http_stream::end() {
    if (st_ == state::dead) return;
    if (st_ == state::until_close) finish(true);
    else if (started_ || st_ != state::head) finish(false);
    st_ = state::dead;
}

}  // namespace detail
}  // namespace scep::evidence
