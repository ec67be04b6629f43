#include "client/scep_client.hpp"

#include <charconv>
#include <optional>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/ssl.hpp>

#include "pki/crypto/encoding.hpp"
#include "pki/scep/message.hpp"

namespace scep::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

result<scep_url> parse_scep_url(const std::string& url) {
    scep_url out;
    std::string rest;
    if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else if (url.rfind("https://", 0) == 0) {
        rest = url.substr(8);
        out.tls = true;
        out.port = 443;
    } else {
        return make_error("only http:// and https:// URLs are supported: " + url);
    }
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    out.path = slash == std::string::npos ? "/" : rest.substr(slash);
    // A port is 1-65535 in decimal; anything else is named, not truncated.
    auto read_port = [&](std::string_view text) -> bool {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) return false;
        out.port = static_cast<std::uint16_t>(value);
        return true;
    };
    std::string_view port_text;
    bool has_port = false;
    if (!hostport.empty() && hostport.front() == '[') {
        auto close = hostport.find(']');
        if (close == std::string::npos) return make_error("bad IPv6 literal in " + url);
        out.host = hostport.substr(1, close - 1);
        if (close + 1 < hostport.size()) {
            if (hostport[close + 1] != ':') return make_error("unexpected text after the IPv6 literal in " + url);
            has_port = true;
            port_text = std::string_view(hostport).substr(close + 2);
        }
    } else {
        auto colon = hostport.rfind(':');
        out.host = hostport.substr(0, colon);
        if (colon != std::string::npos) {
            has_port = true;
            port_text = std::string_view(hostport).substr(colon + 1);
        }
    }
    if (has_port && !read_port(port_text))
        return make_error("bad port \"" + std::string(port_text) + "\" in " + url + " (1-65535)");
    if (out.host.empty()) return make_error("no host in " + url);
    return out;
}

namespace {
// Every step is asynchronous under one deadline: Beast's stream timeouts apply
// only to asynchronous operations, so a synchronous read from a server that
// never answers would wait for ever (a webhook that hangs, a stuck server).
// Written with completion handlers rather than C++20 coroutines: clang 14
// cannot compile coroutines under the fuzz build's sanitizer coverage.
template <class Stream>
struct call_state : std::enable_shared_from_this<call_state<Stream>> {
    template <class... Args>
    explicit call_state(asio::io_context& ioc, Args&&... args) : resolver(ioc), stream(std::forward<Args>(args)...) {}
    tcp::resolver resolver;
    Stream stream;
    http::request<http::string_body> req;
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    std::optional<http_reply> reply;
    beast::error_code error;
    std::string step;  // what failed, for the message

    beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream); }
    bool failed(beast::error_code ec, const char* what) {
        if (!ec) return false;
        error = ec;
        step = what;
        return true;
    }
    void start(const scep_url& url) {
        auto self = this->shared_from_this();
        resolver.async_resolve(url.host, std::to_string(url.port), [self](beast::error_code ec, auto endpoints) {
            if (self->failed(ec, "resolve")) return;
            self->lowest().async_connect(endpoints, [self](beast::error_code ec2, auto) {
                if (self->failed(ec2, "connect")) return;
                self->secure();
            });
        });
    }
    void secure() {
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            send();
        } else {
            auto self = this->shared_from_this();
            stream.async_handshake(asio::ssl::stream_base::client, [self](beast::error_code ec) {
                if (self->failed(ec, "TLS handshake")) return;
                self->send();
            });
        }
    }
    void send() {
        auto self = this->shared_from_this();
        http::async_write(stream, req, [self](beast::error_code ec, std::size_t) {
            if (self->failed(ec, "send")) return;
            http::async_read(self->stream, self->buffer, self->parser, [self](beast::error_code ec2, std::size_t) {
                if (self->failed(ec2, "read")) return;
                auto res = self->parser.release();
                self->reply = http_reply{static_cast<int>(res.result_int()),
                                         std::string(res[http::field::content_type]), std::move(res.body()),
                                         std::string(res[http::field::location]), std::string(res[http::field::server]),
                                         std::string(res["X-Powered-By"])};
                self->finish();
            });
        });
    }
    void finish() {
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            beast::error_code ec;
            stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        } else {
            // close_notify; the server closing first (or not answering it) is fine.
            lowest().expires_after(std::chrono::seconds(1));
            stream.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
        }
    }
};

template <class Stream>
void prepare(call_state<Stream>& c, const scep_url& url, const std::string& method, const std::string& target,
             const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers,
             const http_style& style, std::chrono::milliseconds timeout) {
    c.req = http::request<http::string_body>{http::string_to_verb(method), target, style.version};
    c.req.set(http::field::host, url.host);
    if (!style.user_agent.empty()) c.req.set(http::field::user_agent, style.user_agent);
    for (const auto& [name, value] : headers) c.req.set(name, value);
    c.req.body() = body;
    c.req.prepare_payload();
    c.parser.body_limit(url.max_reply_bytes);
    c.lowest().expires_after(timeout);
}

template <class Stream>
result<http_reply> outcome(const call_state<Stream>& c, const std::string& shown, std::chrono::milliseconds timeout) {
    if (c.reply) return *c.reply;
    if (c.error == beast::error::timeout)
        return make_error(shown + ": no answer within " + std::to_string(timeout.count()) + " ms (timed out)");
    if (c.error) return make_error(shown + ": " + c.error.message());
    return make_error(shown + ": no answer");
}

result<http_reply> do_call(const scep_url& url, const std::string& method, const std::string& target,
                           const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers,
                           std::chrono::milliseconds timeout, const http_style& style = {}) {
    // Errors name the URL without what could be a credential (query values):
    // they reach replies, pages and logs (a webhook's failure).
    const std::string shown = method + " " +
                              redact_url((url.tls ? "https://" : "http://") + url.host + ":" +
                                         std::to_string(url.port) + target);
    try {
        asio::io_context ioc;
        if (!url.tls) {
            auto c = std::make_shared<call_state<beast::tcp_stream>>(ioc, ioc);
            prepare(*c, url, method, target, body, headers, style, timeout);
            c->start(url);
            ioc.run();
            return outcome(*c, shown, timeout);
        }
        // HTTPS: chain and host name verified, against ca_file or the system store.
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        if (url.ca_file.empty())
            ctx.set_default_verify_paths();
        else
            ctx.load_verify_file(url.ca_file);
        auto c = std::make_shared<call_state<beast::ssl_stream<beast::tcp_stream>>>(ioc, ioc, ctx);
        c->stream.set_verify_mode(asio::ssl::verify_peer);
        c->stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
        if (!SSL_set_tlsext_host_name(c->stream.native_handle(), url.host.c_str()))
            return make_error(shown + ": cannot set the TLS server name");
        prepare(*c, url, method, target, body, headers, style, timeout);
        c->start(url);
        ioc.run();
        return outcome(*c, shown, timeout);
    } catch (const boost::system::system_error& e) {
        // e.what() carries Boost's source location; the code's message is what a user needs.
        return make_error(shown + ": " + e.code().message());
    } catch (const std::exception& e) {
        return make_error(shown + ": " + e.what());
    }
}
}  // namespace

result<http_reply> http_send(const scep_url& url, const std::string& method, const std::string& target,
                             const std::string& body,
                             const std::vector<std::pair<std::string, std::string>>& headers, const http_style& style,
                             std::chrono::milliseconds timeout) {
    return do_call(url, method, target, body, headers, timeout, style);
}

result<http_reply> http_call(const scep_url& url, const std::string& method, const std::string& target,
                             const std::string& body, const std::string& content_type, std::chrono::milliseconds timeout) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
    return do_call(url, method, target, body, headers, timeout);
}

result<http_reply> http_call_with_headers(const scep_url& url, const std::string& method, const std::string& target,
                                          const std::vector<std::pair<std::string, std::string>>& headers,
                                          std::chrono::milliseconds timeout) {
    return do_call(url, method, target, "", headers, timeout);
}

result<http_reply> http_request(const scep_url& url, const std::string& method, const std::string& target,
                                const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout) {
    return do_call(url, method, target, body, headers, timeout);
}

result<std::string> scep_client::get_ca_caps() {
    auto r = http_call(url_, "GET", url_.path + "?operation=GetCACaps", "", "");
    if (!r) return r.err();
    if (r->status != 200) return make_error("GetCACaps: HTTP " + std::to_string(r->status));
    return std::move(r->body);
}

result<std::vector<x509_ptr>> scep_client::get_ca_cert() {
    auto r = http_call(url_, "GET", url_.path + "?operation=GetCACert", "", "");
    if (!r) return r.err();
    if (r->status != 200) return make_error("GetCACert: HTTP " + std::to_string(r->status));
    bytes body(r->body.begin(), r->body.end());
    if (r->content_type == "application/x-x509-ca-cert") {
        auto c = x509_from_der(body);
        if (!c) return c.err();
        std::vector<x509_ptr> out;
        out.push_back(std::move(*c));
        return out;
    }
    if (r->content_type == "application/x-x509-ca-ra-cert") return parse_degenerate(body);
    return make_error("GetCACert: unexpected content type \"" + r->content_type + "\"");
}

result<http_reply> scep_client::pki_operation(byte_view message, bool use_get) {
    if (use_get)
        return http_call(url_, "GET", url_.path + "?operation=PKIOperation&message=" + base64_query_value(message), "",
                         "");
    return http_call(url_, "POST", url_.path + "?operation=PKIOperation",
                     std::string(message.begin(), message.end()), "application/x-pki-message");
}

const X509* select_recipient(const std::vector<x509_ptr>& certs) {
    for (const auto& c : certs) {
        bool is_ca = X509_check_ca(c.get()) != 0;
        bool encipher = (X509_get_key_usage(c.get()) & KU_KEY_ENCIPHERMENT) != 0;
        if (!is_ca && encipher) return c.get();
    }
    return certs.empty() ? nullptr : certs.front().get();
}

const X509* select_signer(const std::vector<x509_ptr>& certs) {
    for (const auto& c : certs) {
        bool is_ca = X509_check_ca(c.get()) != 0;
        bool sign = (X509_get_key_usage(c.get()) & KU_DIGITAL_SIGNATURE) != 0;
        if (!is_ca && sign) return c.get();
    }
    return select_recipient(certs);
}

}  // namespace scep::client
