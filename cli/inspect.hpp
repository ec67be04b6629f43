// The inspector on the command line (docs/inspector.md): `scep-lab
// transactions` lists the transaction log, `scep-lab inspect` shows one
// transaction or decodes a captured SCEP message offline (with the lab's RA
// key when it was encrypted to it), `scep-lab inspect --catalogue` prints
// the findings catalogue (docs/inspector.md is generated from it).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pki/store/transactions.hpp"

namespace scep::cli {

int transactions_list(const config::settings& s, const std::string& format, const transaction_query& q,
                      std::ostream& out);
// `target`: a transaction id in the log, or a file (DER, PEM or base64).
int inspect(const config::settings& s, const std::string& target, const std::string& format, std::ostream& out);
int print_catalogue(std::ostream& out);

// Evidence (docs/evidence.md): captures, HAR, IIS logs and event exports
// decoded into one timeline per client.
struct evidence_options {
    std::string ra_key_file;
    std::string html;  // also write the report here
    bool import = false;  // into the lab's transaction log (beside its own), not a private one
    std::string tls_keylog;  // SSLKEYLOGFILE: opens TLS in captures
};
// True when the file's content is evidence (not a single SCEP message).
bool is_evidence_file(const std::string& path);
int inspect_evidence(const config::settings& s, const std::vector<std::string>& files, const evidence_options& o,
                     const std::string& format, std::ostream& out);

}  // namespace scep::cli
