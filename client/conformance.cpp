#include "client/admin_client.hpp"
#include "client/conformance.hpp"

#include <boost/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "client/process.hpp"
#include "client/scep_client.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/scep/faults.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::client {

namespace fs = std::filesystem;

std::string_view to_string(expectation e) {
    switch (e) {
        case expectation::accept: return "accept";
        case expectation::refuse: return "refuse";
        case expectation::retry: return "retry";
        case expectation::poll: return "poll";
        case expectation::either: return "either";
    }
    return "?";
}

std::string_view to_string(verdict v) {
    switch (v) {
        case verdict::pass: return "pass";
        case verdict::fail: return "FAIL";
        case verdict::reported: return "reported";
        case verdict::not_exercised: return "not exercised";
    }
    return "?";
}

namespace {

// One case: its name, the rule (JSON fragment after "kind"), and what a correct client does.
struct case_spec {
    std::string_view name, kind, extra;
    expectation expect;
};

// PKIOperation only for transport faults, so that GetCACaps and GetCACert
// (which every client sends first) still work and the fault meets the enrollment.
constexpr case_spec specs[] = {
    {"wrong-recipient-nonce", "wrong-recipient-nonce", "", expectation::refuse},
    {"missing-recipient-nonce", "missing-recipient-nonce", "", expectation::refuse},
    {"wrong-transaction-id", "wrong-transaction-id", "", expectation::refuse},
    {"missing-transaction-id", "missing-transaction-id", "", expectation::refuse},
    {"missing-sender-nonce", "missing-sender-nonce", "", expectation::refuse},
    {"wrong-message-type", "wrong-message-type", "", expectation::refuse},
    {"undefined-pki-status", "undefined-pki-status", "", expectation::refuse},
    {"no-signing-time", "no-signing-time", "", expectation::accept},
    {"extra-attribute", "extra-attribute", "", expectation::accept},
    {"bad-signature", "bad-signature", "", expectation::refuse},
    {"signature-algorithm-with-digest", "signature-algorithm-with-digest", "", expectation::either},
    {"digest-algorithm-mismatch", "digest-algorithm-mismatch", "", expectation::refuse},
    {"forced-cipher-des", "forced-cipher", R"("cipher":"des")", expectation::either},
    {"forced-cipher-aes256", "forced-cipher", R"("cipher":"aes256")", expectation::either},
    {"no-envelope", "no-envelope", "", expectation::refuse},
    {"chain-in-degenerate", "chain-in-degenerate", "", expectation::either},
    {"http-status-500", "http-status", R"("status":500)", expectation::refuse},
    {"http-status-503-retry", "http-status", R"("status":503,"retry_after":2,"first":1)", expectation::retry},
    {"wrong-content-type", "wrong-content-type", "", expectation::either},
    {"empty-body", "empty-body", "", expectation::refuse},
    {"truncated-body", "truncated-body", "", expectation::refuse},
    {"base64-body", "base64-body", "", expectation::either},
    {"trailing-garbage", "trailing-garbage", "", expectation::either},
    {"unknown-signer", "unknown-signer", "", expectation::refuse},
    {"attributes-out-of-order", "attributes-out-of-order", "", expectation::either},
    {"envelope-other-key", "envelope-other-key", "", expectation::refuse},
    {"empty-degenerate", "empty-degenerate", "", expectation::refuse},
    {"certificate-other-key", "certificate-other-key", "", expectation::refuse},
    {"certificate-other-subject", "certificate-other-subject", "", expectation::refuse},
    {"certificate-expired", "certificate-expired", "", expectation::refuse},
    {"certificate-not-yet-valid", "certificate-not-yet-valid", "", expectation::either},
    {"certificate-foreign-ca", "certificate-foreign-ca", "", expectation::refuse},
    {"pending-then-success", "pending", R"("first":1)", expectation::retry},
    {"pending-forever", "pending", "", expectation::poll},
    {"delay-headers", "delay-headers", R"("delay_ms":3000)", expectation::accept},
    {"delay-body", "delay-body", R"("delay_ms":3000)", expectation::accept},
    {"connection-close", "connection-close", "", expectation::refuse},
    {"connection-reset", "connection-reset", "", expectation::refuse},
    {"redirect-302", "redirect", R"("status":302)", expectation::either},
    {"redirect-307", "redirect", R"("status":307)", expectation::either},
    {"getcacert-other-ra", "getcacert-other-ra", "", expectation::refuse},
    {"getcacert-issuing-only", "getcacert-issuing-only", "", expectation::either},
    {"caps-empty", "caps-empty", "", expectation::accept},
    {"caps-lowercase", "caps-lowercase", "", expectation::accept},
    {"caps-crlf", "caps-crlf", "", expectation::accept},
    {"caps-unknown-words", "caps-unknown-words", "", expectation::accept},
};

std::string rule_json(const case_spec& c) {
    // A kind bound to one operation (GetCACert, GetCACaps) selects by it.
    auto kind = fault_kind_from_name(c.kind);
    const std::string_view operation = kind && !info(*kind).operation.empty() ? info(*kind).operation : "PKIOperation";
    boost::json::object when{{"operation", operation}};
    boost::json::object rule{{"kind", c.kind}};
    if (!c.extra.empty()) {
        auto extra = boost::json::parse("{" + std::string(c.extra) + "}").as_object();
        for (auto& [k, v] : extra) {
            if (k == "first") when["first"] = v;
            else rule[k] = v;
        }
    }
    rule["when"] = std::move(when);
    return scep::json_text(rule);
}

}  // namespace

std::vector<conformance_case> conformance_cases() {
    std::vector<conformance_case> out;
    out.push_back({"baseline", "", expectation::accept, "a correct server: every reply as RFC 8894 specifies"});
    for (const auto& s : specs) {
        auto kind = fault_kind_from_name(s.kind);
        out.push_back({std::string(s.name), rule_json(s), s.expect, kind ? std::string(info(*kind).what) : ""});
    }
    return out;
}

std::string cases_markdown() {
    std::string out = "| case | rule | a correct client | what the reply carries |\n|---|---|---|---|\n";
    for (const auto& c : conformance_cases()) {
        std::string rule = c.rule_json.empty() ? "none" : "`" + c.rule_json + "`";
        out += "| `" + c.name + "` | " + rule + " | " + std::string(to_string(c.expect)) + " | " + c.why + " |\n";
    }
    return out;
}

namespace {

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// A client that ended up with a certificate: right where the reply was
// valid or retryable, wrong where it should have refused or kept polling.
void judge_installed(case_result& r, const std::string& retried) {
    switch (r.c.expect) {
        case expectation::accept: r.v = verdict::pass; break;
        case expectation::retry:
            r.v = verdict::pass;
            r.detail = "retried: " + retried;
            break;
        case expectation::either: r.v = verdict::reported; r.detail = "accepted"; break;
        case expectation::refuse:
        case expectation::poll:
            r.v = verdict::fail;
            r.detail = "installed a certificate from a reply it should have refused";
            break;
    }
}

// What the client did with a PENDING, from the lab's log.
std::string polling_story(const case_result& r) {
    if (!r.log_known) return "";
    if (r.polls == 0) return "did not poll";
    return "polled " + plural(r.polls, "time", "times");
}

}  // namespace

void classify(case_result& r) {
    const auto e = r.c.expect;
    const bool baseline = r.c.rule_json.empty();
    const bool crashed = (r.signal != 0 || !r.crash.empty()) && !r.timed_out;
    const std::string exit_text = "exit " + std::to_string(r.exit_code);
    const std::string crash_outcome =
        r.crash.empty() ? "crash (signal " + std::to_string(r.signal) + ")" : "crash (" + r.crash + ")";
    // A fault that never fired tested nothing: neither pass nor FAIL.
    if (!baseline && r.fired_known && r.fired == 0) {
        r.v = verdict::not_exercised;
        r.outcome = crashed         ? crash_outcome
                    : r.timed_out   ? "no answer (killed after " + std::to_string(r.timeout_seconds ? r.timeout_seconds : static_cast<int>(r.seconds)) + " s)"
                    : r.certificate ? "certificate written"
                                    : "ended (" + exit_text + ")";
        r.detail = r.requests == 0 ? "the fault never fired: the client sent no " + r.operation + " request"
                                   : "the fault never fired: " + plural(r.requests, r.operation + " request", r.operation + " requests") +
                                         " matched its rule";
        if (crashed) r.detail += "; the client crashed before it (see the baseline)";
        return;
    }
    if (crashed) {
        r.v = verdict::fail;
        r.outcome = crash_outcome;
        r.detail = std::string("the client died") + (r.certificate ? " after writing a certificate" : "") +
                   "; a client survives any reply";
        return;
    }
    if (r.certificate) {
        r.outcome = "certificate written";
        judge_installed(r, plural(r.requests, "PKIOperation request", "PKIOperation requests"));
        return;
    }
    if (r.timed_out) {
        r.outcome = "no answer (killed after " +
                    std::to_string(r.timeout_seconds ? r.timeout_seconds : static_cast<int>(r.seconds)) + " s)";
        const std::string polled = r.log_known && r.polls > 0 ? " (" + polling_story(r) + ")" : "";
        if (e == expectation::poll) {
            r.v = verdict::pass;
            r.detail = "still polling at the timeout" + polled + ", nothing installed";
        } else if (e == expectation::retry) {
            // Waiting out PENDING or Retry-After is right; the timeout was too short to see the end.
            r.v = verdict::reported;
            r.detail = "still waiting to retry at the timeout (" +
                       plural(r.requests, "PKIOperation request", "PKIOperation requests") +
                       "); a longer --timeout shows the end";
        } else {
            r.v = verdict::fail;
            r.detail = "hang: the client neither finished nor gave up";
        }
        return;
    }
    r.outcome = "refused (" + exit_text + ")";
    switch (e) {
        case expectation::accept:
            r.v = verdict::fail;
            r.detail = baseline ? "the client does not enroll against a correct server: the other results mean little"
                                : "refused a valid reply";
            break;
        case expectation::refuse:
            r.v = verdict::pass;
            if (r.exit_code == 0) r.detail = "exit 0 although nothing was written";
            break;
        case expectation::poll:
            // Giving up on a PENDING that never ends is allowed; say how.
            r.v = verdict::pass;
            r.outcome = "gave up (" + exit_text + ")";
            r.detail = r.log_known ? (r.polls > 0 ? polling_story(r) + ", then gave up" : "stopped at PENDING without polling")
                                   : "";
            break;
        case expectation::retry:
            r.v = verdict::reported;
            r.outcome = "gave up (" + exit_text + ")";
            r.detail = r.log_known && r.polls > 0
                           ? polling_story(r) + ", then gave up before the answer"
                           : "did not retry (" + plural(r.requests, "PKIOperation request", "PKIOperation requests") + ")";
            break;
        case expectation::either: r.v = verdict::reported; r.detail = "refused"; break;
    }
}

namespace {

// What the device did after the faulted answer, in words.
std::string next_steps(const observation& o) {
    if (o.after == 0) return "no further request";
    std::vector<std::string> parts;
    if (o.same_transaction) parts.push_back(plural(o.same_transaction, "retry or poll", "retries or polls"));
    if (o.new_enrollments) parts.push_back(plural(o.new_enrollments, "new enrollment", "new enrollments"));
    const auto other = o.after - o.same_transaction - o.new_enrollments;
    if (other) parts.push_back(plural(other, "other request", "other requests"));
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

}  // namespace

void classify_observed(case_result& r, const observation& o) {
    const auto e = r.c.expect;
    const bool baseline = r.c.rule_json.empty();
    const std::string window = std::to_string(o.window_seconds) + " s";
    if (o.trigger_failed) {
        r.v = verdict::not_exercised;
        r.outcome = "trigger failed (exit " + std::to_string(o.trigger_exit) + ")";
        r.detail = "the trigger command failed before the device sent anything; see the case's trigger.log";
        return;
    }
    if (!baseline && r.fired_known && r.fired == 0) {
        r.v = verdict::not_exercised;
        r.outcome = o.requests ? plural(o.requests, "exchange", "exchanges") + ", none faulted" : "nothing seen";
        r.detail = "the fault never fired: no " + r.operation + " request from the device within " + window;
        return;
    }
    if (baseline && o.requests == 0) {
        r.v = verdict::fail;
        r.outcome = "nothing seen";
        r.detail = "no exchange from the device within " + window +
                   ": the trigger did not start an enrollment (the other results mean little)";
        return;
    }
    // Did the device end up with a certificate? The check says; else the
    // lab's log where it can: an answer that only a SUCCESS after the fault
    // gives (the baseline, a retry, a fault on GetCACaps or GetCACert), a
    // PENDING (nothing to install), a device that asked again (it did not
    // take the faulted answer).
    std::optional<bool> holds = o.check;
    std::string how = o.check ? (*o.check ? "certificate installed (check)" : "no certificate (check)") : "";
    if (!holds) {
        if (baseline || e == expectation::retry || r.operation != "PKIOperation") {
            holds = o.enrolled;
            how = o.enrolled ? "enrolled" : "did not enroll";
        } else if (e == expectation::poll) {
            holds = false;
            how = "nothing to install";
        } else if (o.after > 0) {
            holds = false;
            how = "asked again";
        }
    }
    const std::string next = next_steps(o);
    if (!holds) {
        r.v = verdict::reported;
        r.observed = true;
        r.outcome = "observed: " + next;
        r.detail = "took the answer, or gave up: the lab cannot tell (a --check command tells them apart)";
        if (!o.check_note.empty()) r.detail += "; " + o.check_note;
        return;
    }
    if (*holds) {
        r.outcome = how;
        judge_installed(r, next);
        return;
    }
    r.outcome = how + "; " + next;
    switch (e) {
        case expectation::accept:
            r.v = verdict::fail;
            r.detail = baseline ? "the device does not enroll against a correct server: the other results mean little"
                                : "refused a valid answer";
            break;
        case expectation::refuse: r.v = verdict::pass; break;
        case expectation::poll:
            r.v = verdict::pass;
            r.detail = o.same_transaction ? "polled " + plural(o.same_transaction, "time", "times")
                                          : "stopped at PENDING without polling";
            break;
        case expectation::retry: r.v = verdict::reported; r.detail = o.after ? "retried, never enrolled" : "did not retry"; break;
        case expectation::either: r.v = verdict::reported; r.detail = "refused"; break;
    }
    if (!o.check_note.empty()) r.detail += (r.detail.empty() ? "" : "; ") + o.check_note;
}

std::string crash_in_exit_code(int exit_code) {
    struct crash_signal {
        int number;
        std::string_view name;
    };
    static constexpr crash_signal signals[] = {{SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},
                                               {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},
                                               {SIGSYS, "SIGSYS"}};
    if (exit_code <= 128) return "";
    for (const auto& s : signals)
        if (exit_code - 128 == s.number)
            return std::string(s.name) + " under a wrapper (exit " + std::to_string(exit_code) + ")";
    return "";
}

std::string crash_in_output(const std::string& output) {
    struct marker {
        std::string_view text, name;
        bool line_start;  // only at the start of a line
    };
    // Shells put their own words before a child's signal ("sh: 1: ./c:
    // Segmentation fault", "bash: line 3:  123 Aborted (core dumped) ./c").
    static constexpr marker markers[] = {
        {"panic: ", "Go panic", true},
        {"Traceback (most recent call last):", "Python traceback", true},
        {"Exception in thread ", "Java exception", true},
        {"terminate called after throwing", "C++ terminate", true},
        {"AddressSanitizer", "AddressSanitizer", false},
        {"UndefinedBehaviorSanitizer", "UndefinedBehaviorSanitizer", false},
        {"LeakSanitizer", "LeakSanitizer", false},
        {"ThreadSanitizer", "ThreadSanitizer", false},
        {"MemorySanitizer", "MemorySanitizer", false},
        {"*** stack smashing detected ***", "stack smashing", false},
        {"double free or corruption", "heap corruption", false},
        {"free(): invalid pointer", "heap corruption", false},
        {"malloc(): corrupted", "heap corruption", false},
        {"Segmentation fault", "Segmentation fault", false},
        {"Bus error", "Bus error", false},
        {"Illegal instruction", "Illegal instruction", false},
        {"Floating point exception", "Floating point exception", false},
        {"(core dumped)", "core dumped", false},
    };
    for (const auto& m : markers) {
        for (std::size_t at = output.find(m.text); at != std::string::npos; at = output.find(m.text, at + 1)) {
            if (m.line_start && at != 0 && output[at - 1] != '\n') continue;
            auto end = output.find('\n', at);
            std::string line = output.substr(at, end == std::string::npos ? std::string::npos : end - at);
            if (m.text == "panic: ") line.erase(0, m.text.size());
            if (line.size() > 120) line = line.substr(0, 120) + "...";
            return std::string(m.name) + (m.text == "panic: " ? ": " + line : "");
        }
    }
    return "";
}

namespace {

bool contains_word(std::string_view line, std::string_view word) {
    for (std::size_t i = 0; i + word.size() <= line.size(); ++i)
        if (ascii_iequals(line.substr(i, word.size()), word)) return true;
    return false;
}

std::string shown_line(std::string line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    // Structured log lines (ts=... level=...): the time and level are noise in a scorecard.
    for (std::string_view key : {"ts=", "level="})
        if (line.starts_with(key) && line.find(' ') != std::string::npos) line.erase(0, line.find(' ') + 1);
    for (char& c : line)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
    if (line.size() > 200) line = line.substr(0, 200) + "...";
    return line;
}

}  // namespace

std::string telling_line(const std::string& output, std::string_view verdict_prefix, std::string_view noise_prefix) {
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < output.size();) {
        auto nl = output.find('\n', at);
        std::string line = output.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? output.size() : nl + 1;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        // Indented lines continue a message (a digest mismatch's values);
        // a profile's helpers say things that are not the client's (D-Bus).
        if (line.empty() || line.front() == ' ' || line.front() == '\t') continue;
        if (!noise_prefix.empty() && line.starts_with(noise_prefix)) continue;
        lines.push_back(std::move(line));
    }
    if (lines.empty()) return "";
    // The line where a profile's script states the client's own verdict.
    if (!verdict_prefix.empty())
        for (const auto& l : lines)
            if (l.starts_with(verdict_prefix)) return shown_line(l);
    // A log level says it best; then words of failure. A progress line
    // ("pkistatus: SUCCESS") printed before the client refused is not why,
    // nor a line its own logger marks as information ("level=info op=GetCACert
    // error=null").
    static constexpr std::string_view levels[] = {"level=error", "level=fatal", "level=crit", "ERROR", "FATAL"};
    static constexpr std::string_view words[] = {"error",  "fail",    "refus",   "invalid", "denied",   "mismatch",
                                                 "unable", "cannot",  "can't",   "reject",  "rejected", "panic",
                                                 "exception", "unreachable", "verify", "not "};
    for (const auto& l : lines)
        for (auto w : levels)
            if (l.find(w) != std::string::npos) return shown_line(l);
    for (const auto& l : lines) {
        if (contains_word(l, "level=info") || contains_word(l, "level=debug")) continue;
        for (auto w : words)
            if (contains_word(l, w)) return shown_line(l);
    }
    return shown_line(lines.back());
}

std::string junit_name(std::string_view name) {
    auto slash = name.rfind('/');
    if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
    std::string out;
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        out += std::isalnum(u) || c == '-' || c == '_' ? c : '_';
    }
    return out.empty() ? "client" : out;
}

const std::vector<client_profile>& client_profiles() {
    static const std::vector<client_profile> profiles = {
        {"scepclient",
         {"scepclient", "-server-url", "{url}", "-challenge", "{challenge}", "-private-key", "{dir}/key.pem",
          "-certificate", "{dir}/cert.pem", "-cn", "{cn}"},
         "",
         "dpkg-query -W -f '${Package} ${Version}' scep",
         "",
         ""},
        // certmonger is a daemon: a private one per case (its own state
        // directories under {dir}), one request, then its status.
        {"certmonger",
         {"sh", "{dir}/certmonger-client.sh", "{url}", "{challenge}", "{dir}", "{cn}"},
         R"sh(#!/bin/sh
# scep-lab conformance: certmonger's getcert with a private daemon.
set -u
# certmonger runs run.sh with a clean environment: the values reach it in
# env.sh, each single-quoted (never as shell text of their own).
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
cm="$3/certmonger"
mkdir -p "$cm/cas" "$cm/requests" "$cm/config" "$cm/local" "$cm/home"
export CERTMONGER_CAS_DIR="$cm/cas" CERTMONGER_REQUESTS_DIR="$cm/requests" \
    CERTMONGER_CONFIG_DIR="$cm/config" CERTMONGER_LOCAL_CA_DIR="$cm/local" HOME="$cm/home" \
    CERTMONGER_SYSTEM_LOCK_FILE="$cm/lock"
printf 'CM_URL=%s\nCM_CHALLENGE=%s\nCM_DIR=%s\nCM_CN=%s\n' "$(q "$1")" "$(q "$2")" "$(q "$3")" "$(q "$4")" >"$cm/env.sh"
CM_DIR=$3
cat >"$cm/run.sh" <<'EOF'
. "$(dirname "$0")/env.sh"
getcert add-scep-ca -s -c lab -u "$CM_URL" || exit 10
getcert request -s -c lab -I req -f "$CM_DIR/cert.pem" -k "$CM_DIR/key.pem" -L "$CM_CHALLENGE" -N "CN=$CM_CN" || exit 11
# Until an end state; while certmonger waits to poll (CA_WORKING after a
# PENDING) this loops on, and conformance's timeout ends the case.
while :; do
    st=$(getcert list -s -i req | sed -n 's/^[[:space:]]*status: //p')
    case "$st" in MONITORING|CA_REJECTED|CA_UNREACHABLE|CA_UNCONFIGURED|NEED_GUIDANCE) break ;; esac
    sleep 0.5
done
getcert list -s -i req >"$CM_DIR/getcert-list.txt"
err=$(sed -n 's/^[[:space:]]*ca-error: //p' "$CM_DIR/getcert-list.txt" | head -1)
echo "certmonger status: $st${err:+ ($err)}" >"$CM_DIR/status.txt"
EOF
dbus-run-session -- certmonger -s -n -c "sh $cm/run.sh"
cat "$CM_DIR/status.txt" 2>/dev/null
grep -q "MONITORING" "$CM_DIR/status.txt" 2>/dev/null
)sh",
         "dpkg-query -W -f '${Package} ${Version}' certmonger",
         "certmonger status:",
         "dbus-daemon["},
    };
    return profiles;
}

std::string substitute(std::string_view arg, const placeholders& p) {
    std::string out;
    for (std::size_t i = 0; i < arg.size();) {
        if (arg[i] == '{') {
            auto close = arg.find('}', i);
            if (close != std::string_view::npos) {
                auto key = arg.substr(i + 1, close - i - 1);
                const std::string* value = key == "url" ? &p.url
                                         : key == "challenge" ? &p.challenge
                                         : key == "dir" ? &p.dir
                                         : key == "cn" ? &p.cn
                                         : key == "ca" ? &p.ca
                                                       : nullptr;
                if (value) {
                    out += *value;
                    i = close + 1;
                    continue;
                }
            }
        }
        out += arg[i++];
    }
    return out;
}

}  // namespace scep::client
