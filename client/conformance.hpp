// `scep-lab conformance` (docs/conformance.md): scores a SCEP client against
// the fault kinds (docs/faults.md). A private server runs as a child process;
// the client command runs once against it unfaulted, then once per fault
// case with one rule armed, each in a fresh directory and under a timeout;
// each run is classified from what the client left in that directory.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/crypto/result.hpp"

namespace scep::client {

// What a correct client does with a case's reply.
enum class expectation {
    accept,  // a valid (if unusual) reply: the certificate is written
    refuse,  // a bad reply: nothing is written, the client ends
    retry,   // a retryable answer (armed once): a client that retries gets the certificate
    poll,    // PENDING without end: nothing is written, polling until the timeout is right
    either,  // clients legitimately differ: reported, never a failure
};
std::string_view to_string(expectation e);

struct conformance_case {
    std::string name;       // "baseline", "wrong-recipient-nonce", "http-status-503-retry", ...
    std::string rule_json;  // the rule POSTed to /admin/api/faults; empty for the baseline
    expectation expect = expectation::accept;
    std::string why;  // what the reply carries, for the report
};
// Every case, baseline first.
std::vector<conformance_case> conformance_cases();
// The cases as a Markdown table (docs/conformance.md carries it; `scep-lab
// conformance --catalogue` prints it).
std::string cases_markdown();

// not_exercised: the case's fault never fired (the client never sent what it
// targets, or stopped before): the case says nothing about the client.
enum class verdict { pass, fail, reported, not_exercised };
std::string_view to_string(verdict v);

// How one run ended and what it means.
struct case_result {
    conformance_case c;
    verdict v = verdict::fail;
    std::string outcome;  // "certificate written", "refused (exit 1)", "hang (killed after 60 s)", ...
    std::string detail;   // why the verdict, the client's last output line
    int exit_code = -1, signal = 0;
    std::string crash;  // a crash its output or exit code shows ("Go panic: ...", "SIGSEGV under a wrapper (exit 139)")
    bool timed_out = false, certificate = false;
    std::uint64_t requests = 0, fired = 0;  // requests the rule saw / faults it sent
    bool fired_known = true;                // false: the lab's fault list could not be read
    std::string operation = "PKIOperation"; // what the rule targets
    // From the lab's transaction log for this case (when it has one): the
    // PKIOperations the client sent, and those after the first PENDING.
    bool log_known = false;
    std::uint64_t pki_operations = 0, polls = 0;
    std::string said;  // the client's most telling output line (its first error)
    bool observed = false;  // observe mode, and what was seen cannot tell acceptance from giving up
    double seconds = 0;
    int timeout_seconds = 0;  // the limit it was killed at (0: use `seconds`)
};
// The verdict for an ended run (pure: unit-tested).
void classify(case_result& r);

// Observe mode (`--trigger`, `--manual`): what the lab saw of the device in
// one case's window, and what the --check command said.
struct observation {
    bool trigger_failed = false;
    int trigger_exit = 0;
    int window_seconds = 0;
    std::uint64_t requests = 0;            // the device's exchanges in the window
    std::uint64_t after = 0;               // its requests after the faulted one
    std::uint64_t new_enrollments = 0;     // PKIOperations with another transactionID after it
    std::uint64_t same_transaction = 0;    // PKIOperations with its transactionID after it (polls, retries)
    bool enrolled = false;                 // a SUCCESS answer after the fault (the baseline: any)
    std::optional<bool> check;             // --check: whether the device holds a certificate from this case
    std::string check_note;                // why the check told nothing
};
// The verdict from an observation (pure: unit-tested). Where the lab's view
// cannot tell a device that took a reply from one that gave up (no further
// request, no --check), the verdict is "reported" and `observed` is set.
void classify_observed(case_result& r, const observation& o);
// A crash in the client's output that its exit code hides: a Go panic (exit
// 2), a Python traceback, a Java exception, a C++ terminate, a sanitizer
// report, glibc's heap or stack checks, a shell's line for a child killed by
// a signal ("Segmentation fault (core dumped)"); "" when none.
std::string crash_in_output(const std::string& output);
// A crash an exit code shows: a shell or wrapper reports a child killed by
// signal N as 128+N; only the signals of a crash count (SIGSEGV, SIGABRT,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS), not SIGTERM or SIGINT. "" when none.
std::string crash_in_exit_code(int exit_code);
// The client's most telling line: the line starting with `verdict_prefix`
// (a profile's own summary), else its first error line (a Go log's
// level=error, "error:", "failed", ...), else its last line; lines starting
// with `noise_prefix` (a profile's helpers) never; "" when silent.
std::string telling_line(const std::string& output, std::string_view verdict_prefix = "",
                         std::string_view noise_prefix = "");
// A client name fit for a JUnit class name and a report: path and the
// characters JUnit readers split at ('.', space) replaced.
std::string junit_name(std::string_view name);

// A client profile: the command template for a client installed here.
struct client_profile {
    std::string name;
    std::vector<std::string> command;  // with {url} {challenge} {dir} {cn} {ca}
    std::string script;                // written to {dir}/<name>-client.sh before each run, when not empty
    std::string version_command;       // prints the client's version, for the report
    std::string verdict_prefix;        // the script's summary line, the report's first choice (telling_line)
    std::string noise_prefix;          // lines of its helpers, never quoted (telling_line)
};
const std::vector<client_profile>& client_profiles();

// Replaces {url} {challenge} {dir} {cn} {ca} in one argument.
struct placeholders {
    std::string url, challenge, dir, cn, ca;
};
std::string substitute(std::string_view arg, const placeholders& p);

struct conformance_options {
    std::string client;                // a profile name, or empty with `command`
    std::vector<std::string> command;  // the template (after --)
    std::vector<std::string> only;     // case names to run (the baseline always runs)
    int timeout_seconds = 60;
    std::string client_name, client_version;  // for the reports (a template's are guessed)
    std::string markdown_file, junit_file;
    bool no_fail_exit = false;
    std::string work_dir;  // kept when given; else a temporary directory, removed at the end
    // How the private server is configured (the parent's --config / --preset).
    std::string server_config, server_preset;
    // A lab already running instead (a CI job's fixture): its base or SCEP
    // URL, the admin API token and the challenge its clients use.
    std::string server_url, admin_token, challenge;
    // Observe mode: per case, the trigger (a shell command: an MDM API call,
    // `adb shell ...`) or a prompt (manual) instead of the client command;
    // the device's exchanges are watched for --timeout seconds (ending early
    // once it has been quiet `settle_seconds` after a final answer); the
    // check (a shell command, exit 0 = the device holds the certificate)
    // runs after. Both get SCEP_LAB_CASE, _EXPECT, _URL, _CHALLENGE, _CA,
    // _DIR, _CN in their environment.
    std::string trigger, check;
    bool manual = false;
    int settle_seconds = 10;
    std::string device_address, device_cn;  // which exchanges are the device's ("" = every one)
};

// Runs the cases; prints the table to `out`. Exit code: 0 all passed (or
// no_fail_exit), 1 a FAIL, 2 the server or the options could not be used.
int conformance(const std::string& self_exe, const conformance_options& o, std::ostream& out);

// The reports (pure: unit-tested).
std::string scorecard_markdown(const std::string& client, const std::string& version, const std::string& date,
                               const std::vector<case_result>& results);
std::string scorecard_junit(const std::string& client, const std::vector<case_result>& results);
struct verdict_count {
    int pass = 0, fail = 0, reported = 0, not_exercised = 0;
};
// "25 pass, 9 FAIL, 12 reported, 1 not exercised" (the last only when any).
std::string summary_text(const verdict_count& t);
verdict_count count_verdicts(const std::vector<case_result>& results);

}  // namespace scep::client
