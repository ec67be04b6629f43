// The HTTP-layer faults (docs/faults.md) applied to a SCEP answer after the
// router built it: another status, content type or body, a held-back or
// paused answer, a dropped or reset connection, a redirect, a faulty
// GetCACert or GetCACaps. The CertRep faults are the SCEP service's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pki/scep/faults.hpp"
#include "server/http.hpp"

namespace scep {
class scep_service;
}

namespace scep::server {

// What the fault rule sees of the request.
struct http_fault_request {
    std::string_view operation;  // as the client named it
    std::string_view target;     // path and query (a redirect keeps them)
    const std::string& client;
    const std::string& message_type;
    const std::string& transaction_id;
    const std::string& subject;  // of the CSR, for rules that select by subject
};

// Takes the first armed HTTP rule that matches and applies it to `res`
// (and to how `rec` puts it on the wire); the rule that fired, if any.
// A redirect's target is answered as it is.
std::optional<fault_rule> inject_http_fault(fault_plan& plan, const scep_service& service, const http_fault_request& r,
                                            response& res, request_record& rec);

}  // namespace scep::server
