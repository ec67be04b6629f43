// Observe mode (docs/conformance.md, "Devices: trigger and observe"): per
// case, a trigger or a prompt makes a device enroll, and what the lab's
// transaction log shows of it is what the verdict rests on.
#include "client/conformance_lab.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <fnmatch.h>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "client/process.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::client {

namespace {


// Which exchanges are the device's: by address, or by the subject its
// requests carry (a CSR's, a CertPoll's) — the addresses that sent a
// matching one count from then on; with neither, every exchange.
class device_filter {
public:
    device_filter(std::string address, std::string cn) : address_(std::move(address)), cn_(std::move(cn)) {}

    std::vector<lab_row> rows(lab_server& srv, std::int64_t after) {
        auto read = rows_after(srv, after);
        if (!read) return {};
        const std::vector<lab_row>& all = *read;
        std::vector<lab_row> out;
        for (const auto& r : all) {
            if (!address_.empty() && r.client != address_) continue;
            if (!cn_.empty() && !known_.contains(r.client)) {
                if (r.operation != "PKIOperation" || !subject_matches(srv, r.id)) continue;
                known_.insert(r.client);
                // The device's earlier exchanges from that address (its GetCACaps, GetCACert).
                for (const auto& earlier : all)
                    if (earlier.id < r.id && earlier.client == r.client) out.push_back(earlier);
                std::sort(out.begin(), out.end(), [](const lab_row& a, const lab_row& b) { return a.id < b.id; });
            }
            out.push_back(r);
        }
        return out;
    }

private:
    bool subject_matches(lab_server& srv, std::int64_t id) {
        if (auto cached = subjects_.find(id); cached != subjects_.end()) return cached->second;
        bool match = false;
        if (auto t = srv.call("GET", "/admin/api/transactions/" + std::to_string(id))) {
            // A CSR's subject, or what a CertPoll or GetCert names.
            std::string text;
            try {
                const auto& req = t->at("detail").at("request").as_object();
                if (const auto* csr = req.if_contains("csr"); csr && csr->is_object())
                    text = boost::json::value_to<std::string>(csr->as_object().at("subject"));
                else if (const auto* data = req.if_contains("message_data"); data && data->is_string())
                    text = std::string(data->as_string());
            } catch (const std::exception&) {
            }
            match = cn_matches(text);
        }
        subjects_[id] = match;
        return match;
    }
    // "CN=device-*": a glob on the CN's value.
    bool cn_matches(const std::string& subject) const {
        auto at = subject.find("CN=");
        if (at == std::string::npos) return false;
        std::string cn = subject.substr(at + 3);
        cn = cn.substr(0, cn.find_first_of(",/+"));
        return ::fnmatch(cn_.c_str(), cn.c_str(), 0) == 0;
    }

    std::string address_, cn_;
    std::set<std::string> known_;
    std::map<std::int64_t, bool> subjects_;
};

// What a correct client does, for a person at the device.
std::string expectation_text(expectation e) {
    switch (e) {
        case expectation::accept: return "a correct device installs the certificate";
        case expectation::refuse: return "a correct device refuses the answer and installs nothing";
        case expectation::retry: return "a correct device retries and then installs the certificate";
        case expectation::poll: return "a correct device keeps polling (or gives up) and installs nothing";
        case expectation::either: return "devices differ here; whatever it does is reported";
    }
    return "";
}

}  // namespace

observation observe_case(lab_server& srv, const conformance_options& o, const conformance_case& c, case_result& r,
                         const std::filesystem::path& dir, const placeholders& ph, std::int64_t before,
                         std::size_t index, std::size_t count, progress& shown) {
    observation seen;
    seen.window_seconds = o.timeout_seconds;
    const std::vector<std::pair<std::string, std::string>> env{
        {"SCEP_LAB_CASE", c.name}, {"SCEP_LAB_EXPECT", std::string(to_string(c.expect))},
        {"SCEP_LAB_URL", ph.url},  {"SCEP_LAB_CHALLENGE", ph.challenge},
        {"SCEP_LAB_CA", ph.ca},    {"SCEP_LAB_DIR", ph.dir},
        {"SCEP_LAB_CN", ph.cn}};
    if (o.manual) {
        const std::string title = "conformance case " + std::to_string(index + 1) + "/" + std::to_string(count) + ": " + c.name;
        const std::string text = (c.rule_json.empty() ? std::string("No fault: a correct server.")
                                                      : "The fault is armed: " + c.why + ".") +
                                 "\nMake the device enroll now (re-apply its SCEP profile, or renew).\n" +
                                 expectation_text(c.expect) + ". Watching for " + std::to_string(o.timeout_seconds) + " s.";
        (void)srv.call("PUT", "/admin/api/prompt", scep::json_text(boost::json::object{{"title", title}, {"text", text}}));
        shown.finish_line();
        std::cerr << "\n== " << title << "\n" << text << "\n" << std::flush;
    }
    pid_t trigger = -1;
    std::optional<ended> trigger_end;
    if (!o.trigger.empty()) {
        auto pid = start_process({"sh", "-c", o.trigger}, dir, dir / "trigger.log", env);
        if (pid) trigger = *pid;
        else seen.trigger_failed = true;
    }
    device_filter device(o.device_address, o.device_cn);
    const auto t0 = std::chrono::steady_clock::now();
    auto last_change = t0;
    std::size_t last_count = 0;
    std::vector<lab_row> rows;
    // The faulted exchange's operation (the baseline's: PKIOperation).
    const auto targeted_by = [&r](const lab_row& x) { return x.operation == r.operation; };
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        shown.update(index, c.name);
        const auto now = std::chrono::steady_clock::now();
        if (trigger > 0 && !trigger_end) trigger_end = ended_yet(trigger);
        rows = device.rows(srv, before);
        if (rows.size() != last_count) {
            last_count = rows.size();
            last_change = now;
        }
        if (now - t0 >= std::chrono::seconds(o.timeout_seconds)) break;
        // A trigger that failed before the device showed up.
        if (trigger_end && trigger_end->exit_code != 0 && rows.empty()) {
            seen.trigger_failed = true;
            seen.trigger_exit = trigger_end->exit_code;
            break;
        }
        // Quiet after a final answer (not PENDING, not a retryable HTTP
        // status), once the targeted operation was seen: the story is told.
        const bool targeted = std::any_of(rows.begin(), rows.end(), targeted_by);
        // A PENDING keeps the window open (polls come minutes apart); a 503
        // or 429 for three times the settling time (a Retry-After).
        if (targeted && !rows.empty()) {
            const auto& last = rows.back();
            const auto quiet = now - last_change;
            const bool retry_later = last.http_status == 503 || last.http_status == 429;
            if (last.pki_status != "PENDING" &&
                quiet >= std::chrono::seconds(o.settle_seconds * (retry_later ? 3 : 1)))
                break;
        }
    }
    if (trigger > 0) stop_group(trigger);
    if (o.manual) (void)srv.call("DELETE", "/admin/api/prompt");
    // What the device did, from the faulted exchange on.
    seen.requests = rows.size();
    auto faulted = std::find_if(rows.begin(), rows.end(), targeted_by);
    if (faulted != rows.end()) {
        for (auto it = std::next(faulted); it != rows.end(); ++it) {
            ++seen.after;
            if (it->operation == "PKIOperation") {
                if (it->transaction_id == faulted->transaction_id && r.operation == "PKIOperation") ++seen.same_transaction;
                else ++seen.new_enrollments;
            }
        }
        // A SUCCESS after the fault (a fault on GetCACaps or GetCACert meets
        // the enrollment after it); the baseline's own counts too.
        seen.enrolled = std::any_of(c.rule_json.empty() ? faulted : std::next(faulted), rows.end(), [](const lab_row& x) {
            return x.operation == "PKIOperation" && x.pki_status == "SUCCESS";
        });
    }
    // The check: does the device hold a certificate from this case?
    if (!o.check.empty() && !seen.trigger_failed) {
        auto pid = start_process({"sh", "-c", o.check}, dir, dir / "check.log", env);
        if (!pid) {
            seen.check_note = "the check could not be started";
        } else {
            auto e = wait_for(*pid, std::chrono::seconds(30));
            if (e.timed_out) seen.check_note = "the check did not end within 30 s";
            else if (e.exit_code == 127 || e.exit_code == 126) seen.check_note = "the check command could not be run (exit " + std::to_string(e.exit_code) + ")";
            else seen.check = e.exit_code == 0;
        }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.timeout_seconds = o.timeout_seconds;
    return seen;
}

}  // namespace scep::client
