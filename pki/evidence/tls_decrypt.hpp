// HTTPS in a capture, opened with the session secrets a client or server
// logged (SSLKEYLOGFILE, the NSS key log format:
// https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/).
// TLS 1.3 (RFC 8446 §7: HKDF-Expand-Label, per-record nonces) with its three
// AEAD suites, and TLS 1.2's AEAD suites (AES-GCM, RFC 5288; ChaCha20-Poly1305,
// RFC 7905) from the master secret (RFC 5246 §6.3). CBC suites, a
// HelloRetryRequest and renegotiation are said, not decrypted. Internal to
// pki/evidence: the capture reader feeds each TLS connection's two
// directions here and reads HTTP from what comes out.
#pragma once

#include <array>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pki/crypto/result.hpp"

namespace scep::evidence {

// The secrets of a key log file, by label and client random.
class tls_key_log {
public:
    // Reads an NSS key log; lines it does not know are skipped, a line over
    // 1 KiB or more than 1,000,000 secrets end the read with the line named.
    static result<tls_key_log> read(std::istream& in, const std::string& name);
    // The secret logged under `label` ("CLIENT_RANDOM", "SERVER_TRAFFIC_SECRET_0", ...)
    // for the session whose ClientHello carried `client_random`; nullptr when none.
    const std::string* find(std::string_view label, std::string_view client_random) const;
    std::size_t size() const { return secrets_.size(); }

private:
    std::unordered_map<std::string, std::string> secrets_;  // label + ' ' + raw client random -> raw secret
};

namespace detail {

// The name a ClientHello asks for (SNI), from its body (after the
// handshake header); "" when it has none or is cut short.
std::string client_hello_server_name(std::string_view client_hello);

class tls_decryptor {
public:
    explicit tls_decryptor(const tls_key_log& keys);
    ~tls_decryptor();
    tls_decryptor(const tls_decryptor&) = delete;
    tls_decryptor& operator=(const tls_decryptor&) = delete;

    // Bytes of one direction (0: the client's, 1: the server's), in order;
    // the application data they carry is appended to `plain`.
    void feed(int dir, std::string_view data, std::string& plain);
    // Bytes the capture lost: records cannot be read across the hole.
    void gap() { fail("the capture lost bytes of this connection: what follows is not read"); }
    // "decrypted (TLS 1.3, TLS_AES_128_GCM_SHA256)", or why not.
    std::string status() const;
    bool decrypting() const;
    const std::string& sni() const { return sni_; }

private:
    struct direction;
    void record(int dir, std::uint8_t type, std::string_view header, std::string_view body, std::string& plain);
    void handshake_plain(int dir, std::string_view body);
    void setup_keys();
    void fail(std::string why);

    const tls_key_log& keys_;
    std::unique_ptr<direction> dirs_[2];
    std::string client_random_, server_random_, sni_;
    std::uint16_t suite_ = 0;
    bool tls13_ = false, ready_ = false, failed_ = false;
    std::string why_;
};

}  // namespace detail
}  // namespace scep::evidence
