// `scep-lab clone --url`: what a live SCEP server shows any client, read
// with GetCACaps, GetCACert and GetNextCACert only (and NDES's admin page
// when asked): never a PKIOperation (docs/clone.md).
#pragma once

#include <chrono>
#include <string>

#include "pki/clone/clone.hpp"

namespace scep::client {

struct clone_fetch_options {
    std::string url;      // the SCEP URL a client would use
    std::string ca_file;  // HTTPS: trust this PEM instead of the system store
    // NDES's admin page: read when admin_open or admin_user is set (each
    // visit makes the server hand out a password, so only when asked).
    bool admin_open = false;
    std::string admin_user, admin_password;
    std::chrono::milliseconds timeout{15000};
};

result<clone::server_view> fetch_view(const clone_fetch_options& o);

}  // namespace scep::client
