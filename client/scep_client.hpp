// A small synchronous SCEP client on the project's own codec and Beast: the
// test suite's enrollment matrix uses it, and so will `scep-lab bench`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "pki/scep/message.hpp"
#include "pki/crypto/ossl.hpp"

namespace scep::client {

struct http_reply {
    int status = 0;
    std::string content_type;
    std::string body;
    std::string location;  // a redirect's Location
    std::string server;    // the Server header (an NDES's IIS version)
    std::string powered_by;  // X-Powered-By (IIS: ASP.NET)
};

struct scep_url {
    std::string host;
    std::uint16_t port = 80;
    std::string path;  // "/scep"
    bool tls = false;  // https://
    // HTTPS: the server is verified (chain and host name) against this PEM
    // file; empty means the system trust store.
    std::string ca_file;
    // Larger answers are refused ("body limit exceeded").
    std::size_t max_reply_bytes = 64 << 20;
};
result<scep_url> parse_scep_url(const std::string& url);

// Each call has one deadline for all of it: connecting, TLS, sending and
// reading the answer; past it the call fails with "timed out".
result<http_reply> http_call(const scep_url& url, const std::string& method, const std::string& target,
                             const std::string& body, const std::string& content_type,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30));

result<http_reply> http_call_with_headers(const scep_url& url, const std::string& method, const std::string& target,
                                          const std::vector<std::pair<std::string, std::string>>& headers,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

// How a request is sent: what a device persona changes.
struct http_style {
    int version = 11;                           // 10: HTTP/1.0
    std::string user_agent = "scep-lab-client";  // "" = no User-Agent header
};
result<http_reply> http_send(const scep_url& url, const std::string& method, const std::string& target,
                             const std::string& body,
                             const std::vector<std::pair<std::string, std::string>>& headers, const http_style& style,
                             std::chrono::milliseconds timeout);

// Any method with a body and headers (the admin API's POSTs).
result<http_reply> http_request(const scep_url& url, const std::string& method, const std::string& target,
                                const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

class scep_client {
public:
    explicit scep_client(scep_url url) : url_(std::move(url)) {}

    result<std::string> get_ca_caps();
    // Certificates as the server sent them (RA first when it has one).
    result<std::vector<x509_ptr>> get_ca_cert();
    // Sends a pkiMessage by POST (binary) or GET (base64 in `message`).
    result<http_reply> pki_operation(byte_view message, bool use_get);

private:
    scep_url url_;
};

// The certificate a client should encrypt to: the first with keyEncipherment
// that is not a CA, else the first certificate (RFC 8894 §2.1.2).
const X509* select_recipient(const std::vector<x509_ptr>& certs);
// The certificate CertReps are signed with: the first non-CA certificate with
// digitalSignature (an NDES pair's signing certificate), else the recipient.
const X509* select_signer(const std::vector<x509_ptr>& certs);

}  // namespace scep::client
