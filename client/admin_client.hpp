// A client of a running scep-lab's admin API (docs/admin-api.md): JSON over
// HTTP(S) with the bearer token. The command line and the conformance
// runner both talk to a server through it.
#pragma once

#include <string>

#include <boost/json/value.hpp>

#include "client/scep_client.hpp"

namespace scep::client {

class admin_client {
public:
    admin_client(scep_url base, std::string token) : base_(std::move(base)), token_(std::move(token)) {}

    // METHOD target [JSON body] -> the JSON answer; an HTTP error carries the
    // API's {"error": ...} text (or the start of the body).
    result<boost::json::value> call(const std::string& method, const std::string& target,
                                    const std::string& body = {}) const;
    // GET target -> the body as it is (a DER download); an HTTP error as for call().
    result<std::string> fetch(const std::string& target) const;
    const scep_url& base() const { return base_; }

private:
    scep_url base_;
    std::string token_;
};

}  // namespace scep::client
