// The SCEP operations as functions of a request to a reply, with no sockets
// (as Boost.Beast's handle_request and micromdm's service layer): the HTTP
// layer in server/ only parses transport details and writes the reply.
#pragma once

#include <string>
#include <vector>

#include "pki/hierarchy.hpp"
#include "pki/issuer.hpp"
#include "pki/message.hpp"
#include "pki/store.hpp"

namespace scep {

struct service_config {
    // RFC 8894 §3.5.2 keywords, answered one per line.
    std::vector<std::string> capabilities{"POSTPKIOperation", "Renewal", "SHA-1",        "SHA-256",
                                          "SHA-512",          "AES",     "DES3",         "SCEPStandard"};
    bool include_root_in_ca_chain = true;
    std::string challenge;  // static challenge secret; empty = no challenge required
    cipher_policy ciphers;
};

// What the server reports and logs for one operation.
struct service_reply {
    int http_status = 200;
    std::string content_type;
    std::string body;
    // For the request log (never secrets):
    std::string message_type;
    std::string transaction_id;
    std::string pki_status;
    std::string fail_info;
    std::string detail;  // failInfoText or the 400 reason
    std::string serial;  // issued certificate
};

class scep_service {
public:
    scep_service(const hierarchy& pki, const issuer& iss, cert_store& store, service_config cfg);

    service_reply get_ca_caps() const;
    service_reply get_ca_cert() const;
    service_reply pki_operation(byte_view message, const std::string& requester);

    const service_config& config() const { return cfg_; }

private:
    service_reply enroll(pki_request& req, const std::string& requester);
    service_reply failure(const pki_request& req, fail_info info, std::string text) const;
    service_reply success(const pki_request& req, const X509& issued) const;
    service_reply reply_from(const pki_request& req, const cert_rep_params& p) const;

    const hierarchy& pki_;
    const issuer& issuer_;
    cert_store& store_;
    service_config cfg_;
};

// Compares secrets without leaking where they differ or their length.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace scep
