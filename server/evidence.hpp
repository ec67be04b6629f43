// The customer's evidence through the inspector (docs/evidence.md): the
// SCEP exchanges pki/evidence reads from captures and HAR files are decoded
// and checked as the server's recorder checks a live one (same findings,
// same rows), into a transaction log of their own; IIS log lines and NDES
// events are attached to the exchange they belong to (client address,
// method, operation, time), and what matches nothing becomes a row of its
// own (a GET PKIOperation in an IIS log line is decoded from its query).
//
// Memory is bounded by the rows' log (SQLite, on disk) and a small index per
// row, not by the size of the files.
#pragma once

#include <boost/json/object.hpp>

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "pki/evidence/evidence.hpp"
#include "pki/inspect/analysis.hpp"
#include "pki/store/transactions.hpp"

namespace scep::server {

struct evidence_file {
    std::string name;
    evidence::file_kind kind = evidence::file_kind::unknown;
    std::string error;  // reading stopped here; what came before is in the timeline
    std::uint64_t http = 0, scep = 0, tls = 0, iis_lines = 0, iis_scep = 0, iis_matched = 0, events = 0,
                  events_matched = 0,
                  events_other = 0;  // events of sources that are not enrollment's
};

struct evidence_summary {
    std::vector<evidence_file> files;
    std::vector<evidence::tls_session> tls;        // first 1000
    std::vector<evidence::ndes_event> unmatched;   // events no exchange explains (first 1000)
    std::vector<std::string> notes;                // first 200
    std::uint64_t tls_total = 0, unmatched_total = 0, notes_total = 0;
    std::vector<std::string> clients;              // in the order first seen
    std::int64_t first_id = 0;                     // the first row this evidence added
    std::uint64_t rows_added = 0;
    bool decrypting = false;                       // an RA key was given
    std::string ra_key_note;                       // what became of it
};

// Reads the files (captures and HAR first, then IIS logs, then event
// exports, whatever their order on the command line) into `rows`.
// `ra_key`: the customer's RA private key (PEM), to open what was
// encrypted to it; its certificate is found in the evidence (a GetCACert
// answer) or given in the same PEM.
// `rows` may already hold rows (a lab's log: `inspect --import`): only the
// new ones are indexed, attached to and reported.
result<evidence_summary> read_evidence(const std::vector<std::filesystem::path>& files, transaction_store& rows,
                                       inspect::lab_view lab, const std::string& ra_key_pem,
                                       const evidence::limits& lim = {});

// The timeline: per client, its rows in time order with what was attached;
// written as it is read from the rows (memory does not grow with them).
void write_evidence_json(std::ostream& out, transaction_store& rows, const evidence_summary& s);
void write_evidence_text(std::ostream& out, transaction_store& rows, const evidence_summary& s);
// One self-contained page (no script, no network: a Content-Security-Policy
// forbids both) a support engineer can attach to a ticket.
void write_evidence_html(std::ostream& out, transaction_store& rows, const evidence_summary& s);

// An NDES event as the rows and reports show it.
boost::json::object event_json(const evidence::ndes_event& e);

// IIS's meaning of a status.substatus ("404.15": the query string is longer
// than requestFiltering allows), "" when not known.
std::string iis_status_meaning(int status, int substatus);

}  // namespace scep::server
