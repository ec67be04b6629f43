// `scep-lab probe`: act as a device (a persona, pki/persona) against any
// SCEP server and report, per persona and step, whether it succeeded, the
// server refused it, or the device would have refused the server
// (docs/probe.md).
#pragma once

#include <deque>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "client/scep_client.hpp"
#include "pki/persona/device.hpp"

namespace scep::client {

struct probe_options {
    std::string url;
    std::vector<std::string> personas;  // names; "all"
    // Challenges: a text, a file (its first line), an NDES admin page, or the lab's challenge API.
    std::string challenge, challenge_file;
    std::string ndes_user, ndes_password, ndes_admin_url;  // default: <scheme://host:port>/certsrv/mscep_admin/
    std::string admin_token;                              // the lab's POST /admin/api/challenges
    std::string ca_file;                                  // https://: verify the server against these
    std::string ca_thumbprint;                            // what a pinning device's profile names
    std::string trust_file;                               // roots a profile installs (PEM)
    std::string device_name;                              // {device} in subjects
    bool real_time = false;  // wait as long as the device would (polls, retries)
    bool dry_run = false;    // GetCACaps, GetCACert, GetNextCACert only: nothing is issued
    int timeout_seconds = 30;
    std::size_t max_reply_bytes = 8 << 20;
    std::string format = "text";  // text, json
    std::string markdown_file, junit_file;
    std::string suite;  // "rfc8894": run the compliance suite too
};

enum class step_result { passed, server_refused, device_refused, skipped, not_reached };
std::string_view to_string(step_result r);

// One HTTP exchange, decoded in the inspector's format.
struct exchange {
    std::string method, target;  // target without the message value
    int status = 0;              // 0: no answer
    std::string content_type;
    std::size_t request_bytes = 0, reply_bytes = 0;
    std::string error;  // no answer: why
    std::string summary;  // "CertRep SUCCESS", "2 certificates", ...
    boost::json::value request;  // analyze_request of the pkiMessage sent (PKIOperation)
    boost::json::value reply;    // analyze_reply
};

struct step_outcome {
    std::string step;  // GetCACaps, GetCACert, enroll, poll, renew, GetCert, GetCRL, GetNextCACert
    step_result result = step_result::not_reached;
    std::string summary;
    std::string device_error;  // device_refused: the device's own code
    std::string kind;          // the error kind (refused steps)
    std::string code;          // a short outcome for matrices: "badRequest", "HTTP 404", "22003"
    std::vector<std::string> notes;
    std::vector<exchange> exchanges;
};

struct minted {
    std::string persona, step, serial, subject, not_after;
};

struct persona_run {
    std::string persona, title;
    std::deque<step_outcome> steps;  // a deque: steps hold references to earlier ones while adding
    std::vector<minted> certificates;
    double seconds = 0;
    bool clean() const;
    const step_outcome* step(const std::string& name) const;  // the first step of that name; nullptr: none
};

// The server compliance suite (--suite rfc8894).
struct suite_spec {
    std::string_view id, section, title;
};
const std::vector<suite_spec>& suite_specs();

struct suite_check {
    std::string id;       // "neg.md5", "shape.ios"
    std::string section;  // "§2.9"
    std::string title;    // what a correct server does
    std::string result;   // "pass", "finding", "note", "skipped"
    std::string detail;   // what the server did
    std::string persona;  // shape checks: the device
};

struct suite_report {
    std::string name;  // "rfc8894"
    std::vector<suite_check> checks;
    std::vector<minted> certificates;
    double seconds = 0;
    std::size_t findings() const;
};
result<suite_report> run_suite(const probe_options& o);

// A challenge from the options' source (text, file, NDES admin page, the
// lab's API), fetched anew for each enrollment; "" when none is configured.
result<std::string> probe_challenge(const probe_options& o, const scep_url& url, const std::string& label);

struct probe_report {
    std::string url;
    std::string server;  // the Server header seen
    bool dry_run = false, real_time = false;
    std::vector<persona_run> runs;
    std::optional<suite_report> suite;
    bool clean() const;
};

// The steps in report order.
const std::vector<std::string>& probe_steps();

result<probe_report> run_probe(const probe_options& o, std::ostream& progress);

// --compare URL_A URL_B: the same personas and suite against two servers.
struct difference {
    std::string what;  // "ios enroll", "suite neg.md5"
    std::string a, b;  // each server's result, short
    std::string a_detail, b_detail;
};
struct comparison {
    probe_report a, b;
    std::vector<difference> differences;
    std::size_t unreached = 0;  // steps one side never reached (not listed: an earlier difference explains them)
    // The visible configuration (scep-lab clone's comparison, docs/clone.md):
    // its differences are listed among `differences` as "configuration <property>";
    // those a second server cannot avoid (keys, serials, dates) only counted.
    std::size_t configuration_expected = 0;
    std::string configuration_note;  // why it was not compared, when it was not
};
// `b_challenge`: the second server's challenge when it differs ("": the same source as the first).
result<comparison> run_compare(const probe_options& o, const std::string& url_b, const std::string& b_challenge,
                               std::ostream& progress);
std::string compare_text(const comparison& c);
std::string compare_markdown(const comparison& c);
boost::json::value compare_json(const comparison& c);

std::string probe_text(const probe_report& r);
std::string probe_markdown(const probe_report& r);
std::string probe_junit(const probe_report& r);
boost::json::value probe_json(const probe_report& r);

}  // namespace scep::client
