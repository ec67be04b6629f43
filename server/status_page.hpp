// The status page at "/": a small server-rendered HTML page for the person
// running the lab: the CA chain with fingerprints and downloads, the URLs,
// the challenge (when shown), recent enrollments and pending requests with
// approve/reject buttons (which call the admin API with the token typed in).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pki/ca/hierarchy.hpp"
#include "pki/store/challenges.hpp"
#include "pki/store/store.hpp"
#include "pki/store/transactions.hpp"

namespace scep::server {

struct status_inputs {
    const hierarchy& pki;
    cert_store& store;
    std::string base_url;      // the address the page was requested at
    std::string scep_path;     // "/scep"
    std::string ndes_path;     // "" when NDES mode is off
    std::string challenge;     // "" = not shown
    std::string challenge_note;  // shown instead when set ("one-time passwords from ...")
    bool https = false;        // whether /ca/tls-chain.* exists
    bool admin = false;        // whether the admin API is on (buttons)
    bool transactions = false;  // whether the inspector is on (link to /transactions)
    const challenge_store* challenges = nullptr;  // challenge.mode = "api": the live ones are listed (never values)
    transaction_store* transaction_log = nullptr;  // the inspector's: failures are summarised from it
    std::optional<std::pair<std::string, std::string>> prompt = std::nullopt;  // a conformance run's prompt: title, text
};

std::string render_status_page(const status_inputs& in);
// The page's script (served at /status.js so that no inline script is needed).
const std::string& status_script();

}  // namespace scep::server
