#include "server/http_server.hpp"

#include "server/iis_log.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <cmath>
#include <sstream>

#include <unistd.h>

#include "server/metrics.hpp"

namespace scep::server {

namespace beast = boost::beast;

namespace {

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// A closing connection (lingering close, TLS close_notify) gets this long.
constexpr auto close_timeout = std::chrono::seconds(2);
// Over max_connections: the first refusal is logged, then a count at most this often.
constexpr auto refusal_log_interval = std::chrono::seconds(10);
// Out of file descriptors: wait this long before accepting again.
constexpr auto accept_backoff = std::chrono::milliseconds(100);

// One connection, plain or TLS on the same code path (Beast's
// advanced/server-flex): the stream type is the only difference.
template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
    static constexpr bool tls = std::is_same_v<Stream, tls_stream>;
    using std::enable_shared_from_this<session<Stream>>::shared_from_this;

public:
    template <class... StreamArgs>
    session(router& r, event_log& log, const http_limits& limits, std::shared_ptr<std::atomic<std::size_t>> active,
            std::shared_ptr<std::atomic<std::size_t>> in_flight, std::shared_ptr<std::atomic<bool>> stopping,
            metrics* stats, iis_access_log* iis, tcp::socket&& socket, StreamArgs&&... stream_args)
        : stream_(std::move(socket), std::forward<StreamArgs>(stream_args)...),
          router_(r),
          log_(log),
          limits_(limits),
          active_(std::move(active)),
          in_flight_(std::move(in_flight)),
          stopping_(std::move(stopping)),
          metrics_(stats),
          iis_(iis) {
        beast::error_code ec;
        auto ep = tcp_layer().socket().remote_endpoint(ec);
        client_ = ec ? "unknown" : ep.address().to_string();
        if (iis_) {
            auto local = tcp_layer().socket().local_endpoint(ec);
            if (!ec) {
                local_ip_ = local.address().to_string();
                local_port_ = local.port();
            }
        }
        if (metrics_) metrics_->connection_opened();
    }
    ~session() {
        --*active_;
        if (busy_) --*in_flight_;
        if (metrics_) metrics_->connection_closed();
    }

    void run() {
        asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::start, shared_from_this()));
    }

private:
    beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

    void start() {
        if constexpr (tls) {
            // The handshake gets the same budget as the first request.
            tcp_layer().expires_after(limits_.read_timeout);
            stream_.async_handshake(asio::ssl::stream_base::server,
                                    beast::bind_front_handler(&session::on_handshake, shared_from_this()));
        } else {
            do_read();
        }
    }

    void on_handshake(beast::error_code ec) {
        if (ec) {
            // A client that does not trust the lab chain aborts here: say so
            // at debug level (scanners and health probes do it too).
            log_.event(spdlog::level::debug, "TLS handshake failed", {{"client", client_}, {"error", ec.message()}});
            return close();
        }
        do_read();
    }

    void do_read() {
        parser_.emplace();
        parser_->body_limit(limits_.max_body_bytes);
        parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
        // The first request must arrive within read_timeout; a keep-alive
        // connection may wait idle_timeout for the next one.
        tcp_layer().expires_after(requests_ == 0 ? limits_.read_timeout : limits_.idle_timeout);
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
            return close();
        if (ec == http::error::body_limit)
            return reject(http::status::payload_too_large,
                          "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
        if (ec == http::error::header_limit)
            return reject(http::status::request_header_fields_too_large,
                          "request line and headers exceed " + std::to_string(limits_.max_header_bytes) + " bytes");
        if (ec) return reject(http::status::bad_request, "malformed HTTP request: " + ec.message());

        request req = parser_->release();
        // Ambiguous framing is answered and the connection closed: whatever
        // follows on it could be read as another request (RFC 9112 §6.3).
        if (auto bad = check_framing(req)) return reject(bad->status, bad->reason);
        // Counted first, then the stop flag read: once stop() is set and the
        // drain has seen no request in flight, none starts any more (a
        // request read after stop() is closed unanswered, so the drain can
        // never end under a request that began after its last look).
        ++*in_flight_;
        if (*stopping_) {
            --*in_flight_;
            return close();
        }
        ++requests_;
        busy_ = true;
        auto started = std::chrono::steady_clock::now();
        request_record rec;
        response res;
        try {
            res = router_.handle(req, client_, rec, tls);
        } catch (const std::exception& e) {
            // Nothing may escape a completion handler; answer and keep serving.
            rec.http_status = 500;
            rec.detail = std::string("internal error: ") + e.what();
            res = response{http::status::internal_server_error, req.version()};
            res.set(http::field::content_type, "text/plain");
            res.body() = "internal error\n";
            res.prepare_payload();
        }
        if (req.method() == http::verb::head) res.body().clear();
        // Shutting down: answer this request, then close the connection.
        if (*stopping_) res.keep_alive(false);
        auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
        log_request(req, rec, elapsed.count());
        if (iis_ && !rec.http_sys) write_iis(req, rec, elapsed.count());
        if (metrics_) metrics_->observe(rec, elapsed.count());
        if (rec.delay.count() > 0) {
            // quirks.latency, delay-headers: wait without holding a thread.
            auto timer = std::make_shared<asio::steady_timer>(stream_.get_executor(), rec.delay);
            auto held = std::make_shared<response>(std::move(res));
            timer->async_wait([self = shared_from_this(), timer, held, transport = rec.transport,
                               pause = rec.pause](beast::error_code) { self->deliver(std::move(*held), transport, pause); });
            return;
        }
        deliver(std::move(res), rec.transport, rec.pause);
    }

    // The answer, or what a transport fault (docs/faults.md) does instead.
    void deliver(response&& res, request_record::wire transport, std::chrono::milliseconds pause) {
        using wire = request_record::wire;
        if (transport == wire::answer) return send(std::move(res));
        if (busy_) {
            busy_ = false;
            --*in_flight_;
        }
        beast::error_code ignored;
        if (transport == wire::reset) {
            // SO_LINGER with a zero timeout: close() sends RST, not FIN.
            tcp_layer().socket().set_option(asio::socket_base::linger(true, 0), ignored);
            tcp_layer().socket().close(ignored);
            return;
        }
        if (transport == wire::close) return close_socket();
        // pause_mid_body: the status line, headers and half the body, a
        // pause, then the rest; the connection closes after it.
        std::ostringstream os;
        res.keep_alive(false);
        os << res;
        auto wire_bytes = std::make_shared<std::string>(os.str());
        const std::size_t first = wire_bytes->size() - res.body().size() / 2;
        tcp_layer().expires_after(limits_.read_timeout + pause);
        asio::async_write(stream_, asio::buffer(wire_bytes->data(), first),
                          [self = shared_from_this(), wire_bytes, first, pause](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              auto timer = std::make_shared<asio::steady_timer>(self->stream_.get_executor(), pause);
                              timer->async_wait([self, timer, wire_bytes, first](beast::error_code) {
                                  asio::async_write(self->stream_,
                                                    asio::buffer(wire_bytes->data() + first, wire_bytes->size() - first),
                                                    [self, wire_bytes](beast::error_code, std::size_t) { self->close(); });
                              });
                          });
    }

    // log.iis_dir: the line IIS would write for this request (server/iis_log.hpp).
    void write_iis(const request& req, const request_record& rec, double ms) {
        const target_parts parts = split_target(req.target());
        iis_line l;
        l.end = std::chrono::system_clock::now();
        l.server_ip = local_ip_;
        l.server_port = local_port_;
        l.method = std::string(req.method_string());
        l.uri_stem = std::string(parts.path);
        l.uri_query = std::string(parts.query);
        l.client_ip = client_;
        l.user_agent = std::string(req[http::field::user_agent]);
        l.referer = std::string(req[http::field::referer]);
        l.status = rec.http_status;
        l.substatus = rec.iis_substatus;
        l.time_taken_ms = static_cast<long long>(ms + 0.5);
        iis_->write(l);
    }

    void log_request(const request& req, const request_record& rec, double ms) {
        fields f{{"client", client_},
                 {"method", std::string(req.method_string())},
                 {"op", rec.operation.empty() ? std::string(req.target().substr(0, 64)) : rec.operation},
                 {"http", rec.http_status}};
        const scep_outcome& s = rec.scep;
        if (s.type) f.emplace_back("msg_type", s.type_name());
        if (!s.transaction_id.empty()) f.emplace_back("txid", s.transaction_id);
        if (s.status) f.emplace_back("status", s.status_name());
        if (s.failure) f.emplace_back("fail_info", s.failure_name());
        if (s.hresult) f.emplace_back("hresult", s.hresult_text());
        if (!s.serial.empty()) f.emplace_back("serial", s.serial);
        if (!rec.detail.empty()) f.emplace_back("detail", rec.detail);
        if constexpr (tls) f.emplace_back("tls", SSL_get_version(stream_.native_handle()));
        f.emplace_back("ms", std::round(ms * 100) / 100);
        // Server faults at error; refusals (an HTTP 4xx, a SCEP FAILURE) at
        // warning, so that --log-level warn shows every client that failed.
        const bool refused = rec.http_status >= 400 || s.status == pki_status::failure;
        log_.event(rec.http_status >= 500 ? spdlog::level::err : refused ? spdlog::level::warn : spdlog::level::info,
                   "request", f);
    }

    void reject(http::status status, const std::string& reason) {
        log_.warn("rejected request", {{"client", client_}, {"http", static_cast<int>(status)},
                                       {"detail", reason}});
        // The client may still be sending (a 10 MB body): drain before
        // closing so that it reads this answer instead of a reset.
        linger_ = true;
        response res{status, 11};
        res.set(http::field::content_type, "text/plain");
        res.set(http::field::connection, "close");
        res.body() = reason + "\n";
        res.keep_alive(false);
        res.prepare_payload();
        send(std::move(res));
    }

    void send(response&& res) {
        auto sp = std::make_shared<response>(std::move(res));
        response_ = sp;
        tcp_layer().expires_after(limits_.read_timeout);
        http::async_write(stream_, *sp,
                          beast::bind_front_handler(&session::on_write, shared_from_this(), sp->need_eof()));
    }

    void on_write(bool close_after, beast::error_code ec, std::size_t) {
        response_.reset();
        if (busy_) {
            busy_ = false;
            --*in_flight_;
        }
        if (ec) return close();
        if (linger_) return linger();
        if (close_after || *stopping_) return close();
        do_read();
    }

    // Lingering close: stop sending, read and discard what the client still
    // sends, bounded in time and bytes, then close.
    void linger() {
        beast::error_code ignored;
        tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
        tcp_layer().expires_after(close_timeout);
        drain();
    }
    void drain() {
        if (!discard_) discard_ = std::make_unique<std::array<char, 16384>>();
        stream_.async_read_some(asio::buffer(*discard_),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                    self->drained_ += n;
                                    if (ec || self->drained_ > max_drain_bytes) return self->close();
                                    self->drain();
                                });
    }

    void close() {
        if constexpr (tls) {
            // close_notify, bounded in time, then the socket.
            if (!closing_ && tcp_layer().socket().is_open()) {
                closing_ = true;
                tcp_layer().expires_after(close_timeout);
                stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close_socket(); });
                return;
            }
        }
        close_socket();
    }
    void close_socket() {
        beast::error_code ec;
        tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
        tcp_layer().socket().close(ec);
    }

    Stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<response> response_;
    router& router_;
    event_log& log_;
    const http_limits& limits_;
    std::shared_ptr<std::atomic<std::size_t>> active_;
    std::string client_;
    std::size_t requests_ = 0;
    bool linger_ = false;
    bool closing_ = false;
    bool busy_ = false;  // a request is being answered
    std::shared_ptr<std::atomic<std::size_t>> in_flight_;
    std::shared_ptr<std::atomic<bool>> stopping_;
    metrics* metrics_;
    iis_access_log* iis_;
    std::string local_ip_;
    std::uint16_t local_port_ = 0;
    std::size_t drained_ = 0;
    std::unique_ptr<std::array<char, 16384>> discard_;  // only while lingering: idle sessions stay small
    static constexpr std::size_t max_drain_bytes = 64 << 20;
};

}  // namespace

http_server::http_server(asio::io_context& ioc, router& r, event_log& log, http_limits limits,
                         asio::ssl::context* tls, metrics* stats, iis_access_log* iis)
    : ioc_(ioc),
      router_(r),
      log_(log),
      limits_(limits),
      acceptor_(asio::make_strand(ioc)),
      active_(std::make_shared<std::atomic<std::size_t>>(0)),
      tls_(tls),
      metrics_(stats),
      iis_(iis),
      in_flight_(std::make_shared<std::atomic<std::size_t>>(0)),
      stopping_(std::make_shared<std::atomic<bool>>(false)) {}

http_server::~http_server() = default;

result<tcp::acceptor> bind_listener(asio::io_context& ioc, const std::string& address, std::uint16_t port) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(address, ec);
    if (ec) return make_error("listen address \"" + address + "\" is not an IP address");
    tcp::endpoint ep{addr, port};
    tcp::acceptor acceptor(ioc);
    auto fail = [&](const char* what) -> result<tcp::acceptor> {
        std::string msg = std::string("cannot ") + what + " " + address + ":" + std::to_string(port) + ": " +
                          ec.message();
        beast::error_code ignored;
        acceptor.close(ignored);  // never leave a half-built listener behind
        return make_error(msg);
    };
    if (acceptor.open(ep.protocol(), ec); ec) return fail("open a socket for");
    if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("configure");
    if (acceptor.bind(ep, ec); ec) return fail("bind");
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen on");
    return acceptor;
}

result<tcp::endpoint> http_server::listen(const std::string& address, std::uint16_t port) {
    auto bound = bind_listener(ioc_, address, port);
    if (!bound) return bound.err();
    return adopt(std::move(*bound));
}

result<tcp::endpoint> http_server::adopt(tcp::acceptor&& bound) {
    beast::error_code ec;
    const auto ep = bound.local_endpoint(ec);
    if (ec) return make_error("listener: " + ec.message());
    const auto fd = bound.release(ec);
    if (ec) return make_error("taking over the listener: " + ec.message());
    acceptor_.assign(ep.protocol(), fd, ec);
    if (ec) {
        ::close(fd);
        return make_error("taking over the listener: " + ec.message());
    }
    return ep;
}

void http_server::start() { do_accept(); }

void http_server::stop() {
    *stopping_ = true;  // keep-alive connections close after their current answer
    asio::post(acceptor_.get_executor(), [this] {
        beast::error_code ec;
        acceptor_.close(ec);
    });
}

void http_server::do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (!ec) {
            if (active_->load() >= limits_.max_connections) {
                // Over the limit: close at once rather than queue unbounded work;
                // log the first and then a count every ten seconds, not a flood.
                beast::error_code ignored;
                socket.close(ignored);
                ++refused_;
                auto now = std::chrono::steady_clock::now();
                if (now - last_refusal_log_ > refusal_log_interval) {
                    log_.warn("connections refused: max_connections reached",
                              {{"max_connections", limits_.max_connections},
                               {"refused", refused_}});
                    last_refusal_log_ = now;
                    refused_ = 0;
                }
            } else {
                ++*active_;
                if (tls_)
                    std::make_shared<session<tls_stream>>(router_, log_, limits_, active_, in_flight_, stopping_,
                                                          metrics_, iis_, std::move(socket), *tls_)
                        ->run();
                else
                    std::make_shared<session<beast::tcp_stream>>(router_, log_, limits_, active_, in_flight_,
                                                                 stopping_, metrics_, iis_, std::move(socket))
                        ->run();
            }
        } else {
            // Out of file descriptors (or another transient error): back off
            // instead of spinning on accept and flooding the log.
            log_.warn("accept failed", {{"error", ec.message()}});
            auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), accept_backoff);
            timer->async_wait([this, timer](beast::error_code) { do_accept(); });
            return;
        }
        do_accept();
    });
}

}  // namespace scep::server
