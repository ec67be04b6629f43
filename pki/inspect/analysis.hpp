// Decodes one SCEP exchange into the fields a client developer needs, and
// checks it against the catalogue (findings.hpp). No I/O: the server feeds
// it what it received and sent, `scep-lab inspect` a captured file.
//
// Nothing secret leaves this module: the challenge is reported by its ASN.1
// type and presence only, never its value; decrypted content is read, never
// copied into a report.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "pki/crypto/ossl.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/inspect/findings.hpp"

namespace scep::inspect {

// What the analysis compares a request with: the lab it was sent to.
struct lab_view {
    std::vector<std::string> capabilities;     // GetCACaps keywords as advertised
    // False when what the server advertised is not known (evidence without
    // its GetCACaps answer): no "not advertised" finding is raised then.
    bool capabilities_known = true;
    const X509* ra_encryption_cert = nullptr;  // the certificate requests must be encrypted to
    // Every certificate the lab publishes, with a name ("RA", "issuing CA", ...):
    // says what a request was encrypted to when it was not the RA.
    std::vector<std::pair<std::string, const X509*>> published;
    std::vector<const X509*> cas;  // signer "issued by this lab" when one of these signed it
    std::vector<const X509*> ras;  // the RA certificates: an issuer named like one is the RA, not the CA
    int min_rsa_bits = 2048;
    int min_ec_bits = 256;
    bool challenge_required = false;
    // Offline (`scep-lab inspect`): the RA key, to decrypt what was encrypted to it.
    const EVP_PKEY* ra_key = nullptr;
    time_point now = std::chrono::system_clock::now();
};

struct signer_view {
    std::string kind;  // "self-signed", "issued by this lab", "unknown", "none"
    std::string subject, issuer, serial, key, not_after;
};

struct csr_view {
    std::string subject;
    std::vector<std::string> sans;  // "DNS:a.example", or one entry "refused: why"
    std::string key;                // "RSA 2048", "EC 256 (prime256v1)"
    std::vector<std::string> extensions;
    std::string signature_algorithm;
    bool signature_valid = false;
    std::string challenge;  // "absent", or its ASN.1 type: "PrintableString", "UTF8String"
};

struct request_report {
    std::size_t size = 0;
    bool decoded = false;
    std::string error;  // why it could not be decoded
    std::optional<int> message_type;
    std::string message_type_name;
    std::string transaction_id;
    std::string transaction_id_type;  // "PrintableString", ...
    std::string sender_nonce;         // hex
    std::size_t sender_nonce_length = 0;
    signer_view signer;
    std::string digest;               // "sha256"
    std::string signature_algorithm;  // of the signerInfo ("rsaEncryption", "sha256WithRSAEncryption")
    std::optional<bool> signature_valid;
    std::vector<std::string> signed_attributes;  // in the order received
    bool attributes_der_sorted = true;
    std::string content_cipher;  // "aes-128-cbc"
    std::string key_transport;   // "rsaEncryption"
    std::string encrypted_to;    // "RA", "issuing CA", "unknown (CN=..., serial ...)"
    bool opened = false;         // the messageData was read (decrypted)
    std::optional<csr_view> csr;
    std::string message_data;  // GetCert/GetCRL/CertPoll: what is asked, as text
    std::vector<finding> findings;
};

// What the caller (the server's SCEP service) already decoded of the same
// request: reused rather than parsed again, since parsing certificates and
// keys is most of what an analysis costs.
struct decoded_request {
    const PKCS7* p7 = nullptr;        // `der`, parsed
    const X509_REQ* csr = nullptr;    // the messageData, parsed
    bool csr_verified = false;        // the CSR's signature was verified
    std::optional<bool> signer_self_signed;  // the signer's self-signature, when already checked
};

// `opened`: the decrypted messageData when the caller already has it (the
// server); otherwise it is decrypted with lab.ra_key when that is set.
request_report analyze_request(byte_view der, const lab_view& lab, const bytes* opened = nullptr,
                               const decoded_request* decoded = nullptr);

struct reply_report {
    std::size_t size = 0;
    std::string kind;  // "CertRep", "certificate", "degenerate", "capabilities", "text", "signed content", "empty"
    std::string content_type;
    std::string pki_status, fail_info, fail_info_text;
    std::string transaction_id, recipient_nonce, sender_nonce;
    std::string digest, signature_algorithm, signer;
    std::string content_cipher;          // SUCCESS: the envelope's cipher
    std::vector<std::string> certificates;  // subjects, in the order sent
    std::vector<std::string> capabilities;  // GetCACaps
    std::string error;
};
reply_report analyze_reply(std::string_view body, std::string_view content_type);

// A client whose story stops after GetCACaps or GetCACert (flow.stopped-
// after-*): what in the answer it was sent may have stopped it, as the
// finding's detail. Pure: the reply as sent (faults included).
std::string getcacaps_stop_causes(int http_status, std::string_view body, std::string_view content_type);
std::string getcacert_stop_causes(int http_status, std::string_view body, std::string_view content_type);
// The GetCACaps keywords in a reply body (one per line, CRLF or LF).
std::vector<std::string> capability_words(std::string_view body);

// What the HTTP layer saw of one SCEP request.
struct http_view {
    std::string method;     // "GET", "POST", "HEAD"
    std::string operation;  // as sent
    std::size_t query_length = 0;
    std::string content_type;
    bool post_base64 = false;   // a POST body that was base64 text
    std::optional<finding> get_unescaped;  // unescaped_base64() of the GET message
};
// Transport findings of one request, given what GetCACaps advertises.
std::vector<finding> http_findings(const http_view& http, const std::vector<std::string>& capabilities);
// http.get-unescaped for a GET message parameter (as received, before
// percent-decoding) whose characters change its meaning for some servers —
// a raw '+', line breaks — named with how often; nullopt when none does
// ('/' and '=' are legal in a query).
std::optional<finding> unescaped_base64(std::string_view raw_value);

// Text a client chose, fit for a report, a log line or a terminal: cut at
// `max` bytes ("..." appended) with control characters replaced by '?'.
std::string printable(std::string_view s, std::size_t max = 256);

boost::json::value to_json(const request_report& r);
boost::json::value to_json(const reply_report& r);
boost::json::value to_json(const std::vector<finding>& found);

}  // namespace scep::inspect
