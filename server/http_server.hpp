// Asynchronous HTTP/1.1 server in the Boost.Beast style: one listener, one
// session per connection on its own strand, a timeout before every operation,
// body and header limits on every parser.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "pki/crypto/result.hpp"
#include "server/logging.hpp"
#include "server/router.hpp"

namespace scep::server {

class metrics;
class iis_access_log;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// From the [server] settings (config/config.hpp holds the defaults).
struct http_limits {
    std::size_t max_body_bytes;
    std::size_t max_header_bytes;
    std::chrono::seconds read_timeout;
    std::chrono::seconds idle_timeout;
    std::size_t max_connections;
};

// Binds and listens on `address`:`port` (port 0 picks one) before any server
// exists, so that start-up finds a busy port before it writes anything; the
// server takes the listener over with adopt().
result<tcp::acceptor> bind_listener(asio::io_context& ioc, const std::string& address, std::uint16_t port);

class http_server {
public:
    // With `tls`, every connection starts with a TLS handshake (HTTPS); the
    // context must outlive the server.
    // `iis`: log.iis_dir's log, written for every request answered (nullptr: none).
    http_server(asio::io_context& ioc, router& r, event_log& log, http_limits limits,
                asio::ssl::context* tls = nullptr, metrics* stats = nullptr, iis_access_log* iis = nullptr);
    ~http_server();

    // Binds and listens; the returned endpoint has the real port (port 0 picks one).
    result<tcp::endpoint> listen(const std::string& address, std::uint16_t port);
    // Takes over a listener from bind_listener (any io_context); its endpoint.
    result<tcp::endpoint> adopt(tcp::acceptor&& bound);
    void start();
    void stop();  // stops accepting; sessions finish their current request

    // Requests read and not yet fully answered (graceful shutdown waits for 0).
    std::size_t in_flight() const { return in_flight_->load(); }

private:
    void do_accept();

    asio::io_context& ioc_;
    router& router_;
    event_log& log_;
    http_limits limits_;
    tcp::acceptor acceptor_;
    std::shared_ptr<std::atomic<std::size_t>> active_;
    std::size_t refused_ = 0;  // on the acceptor's strand
    std::chrono::steady_clock::time_point last_refusal_log_{};
    asio::ssl::context* tls_ = nullptr;
    metrics* metrics_ = nullptr;
    iis_access_log* iis_ = nullptr;
    std::shared_ptr<std::atomic<std::size_t>> in_flight_;
    std::shared_ptr<std::atomic<bool>> stopping_;
};

}  // namespace scep::server
