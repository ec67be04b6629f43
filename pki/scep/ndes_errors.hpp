// What NDES reports for each kind of failure: the HRESULT it puts in the
// FAILURE reply's 1.3.6.1.4.1.311.21.33 attribute and the Application-log
// event it writes (source Microsoft-Windows-NetworkDeviceEnrollmentService).
// The table, with its sources and how sure each row is, is in docs/ndes.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace scep {

// Why a request failed, as far as NDES tells causes apart.
enum class failure_cause {
    unspecified,        // the HRESULT follows the failInfo alone
    missing_info,       // no signer certificate, no envelope, not an EnvelopedData
    signature,          // the pkiMessage signature does not verify
    decrypt,            // the envelope does not decrypt with the RA key
    algorithm,          // digest or cipher refused
    password_missing,   // no challengePassword
    password_wrong,     // unknown password
    password_used,      // a one-time password already spent
    password_expired,   // a one-time password past its validity
    password_encoding,  // UTF8String challengePassword
    template_mismatch,  // the template is not one the CA publishes
    subject,            // the subject is refused
    csr_invalid,        // the CSR does not parse, or fails the CSR checks (key, signature)
    renewal_unknown,    // the certificate being renewed is not this CA's
    renewal_expired,
    renewal_revoked,
    rejected,           // a CA manager denied the pending request
    ca_unavailable,     // the CA (here: the store) cannot be reached
    not_found,          // GetCert/GetCRL/CertPoll for something unknown
};

struct ndes_error {
    std::uint32_t hresult;
    std::string_view symbol;   // "CERTSRV_E_UNSUPPORTED_CERT_TYPE"
    std::string_view message;  // Windows' text for the HRESULT
    int event_id;              // NDES Application-log event; 0 = NDES writes none
    std::string_view event_text;  // with %1 for the HRESULT and %2 for the message
};

// nullopt-free: unspecified gets the generic row for the failInfo value
// (0 badAlg, 1 badMessageCheck, 2 badRequest, 3 badTime, 4 badCertId).
const ndes_error& ndes_error_for(failure_cause cause, int fail_info_value);

// The event's text with the HRESULT and its message filled in.
std::string ndes_event_text(const ndes_error& e);

}  // namespace scep
