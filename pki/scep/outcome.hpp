// What one SCEP operation did, typed: the message answered, the CertRep's
// status and failInfo, the certificate issued, the faults injected, the
// HRESULT NDES would send. It flows from the service to the request log,
// metrics and the inspector, which format it only at their edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scep {

enum class fault_kind;  // pki/scep/faults.hpp

// A fault injected into an answer: its kind and the id of the rule that armed it.
struct fired_fault {
    fault_kind kind;
    std::string rule;
    // "kind (rule id)", for the request log and the inspector (pki/scep/faults.cpp).
    std::string text() const;
};

// RFC 8894 §3.2.1.2
enum class message_type : int {
    cert_rep = 3,
    renewal_req = 17,
    pkcs_req = 19,
    cert_poll = 20,
    get_cert = 21,
    get_crl = 22,
};
// RFC 8894 §3.2.1.3
enum class pki_status : int { success = 0, failure = 2, pending = 3 };
// RFC 8894 §3.2.1.4
enum class fail_info : int {
    bad_alg = 0,
    bad_message_check = 1,
    bad_request = 2,
    bad_time = 3,
    bad_cert_id = 4,
};

std::string message_type_name(int type);  // "PKCSReq", or "unknown(99)"
std::string_view to_string(pki_status s);
std::string_view to_string(fail_info f);

struct scep_outcome {
    std::optional<scep::message_type> type;  // of the request answered (any number a client sent)
    std::string transaction_id;
    std::optional<pki_status> status;        // of the CertRep sent
    std::optional<fail_info> failure;        // FAILURE: the failInfo sent
    std::string serial;                      // the certificate issued
    std::optional<std::uint32_t> hresult;    // NDES mode, FAILURE: the HRESULT sent
    std::vector<fired_fault> faults;         // injected into this answer (CertRep, then HTTP)

    // The edges' spellings; empty when the fact is absent.
    std::string type_name() const { return type ? message_type_name(static_cast<int>(*type)) : ""; }
    std::string status_name() const { return status ? std::string(to_string(*status)) : ""; }
    std::string failure_name() const { return failure ? std::string(to_string(*failure)) : ""; }
    std::string hresult_text() const;  // "0x80094800"
    std::string faults_text() const;   // "kind (rule id), ..."
};

}  // namespace scep
