// `scep-lab probe --compare URL_A URL_B`: the same requests to two servers,
// and where their answers differ (docs/probe.md).
#include <algorithm>
#include <sstream>

#include <boost/json.hpp>

#include "client/clone_fetch.hpp"
#include "client/probe.hpp"
#include "client/report_text.hpp"
#include "pki/crypto/encoding.hpp"

namespace scep::client {

namespace json = boost::json;

namespace {

// What is compared of a step: its result and short outcome, not its text
// (serials, subjects and times always differ).
std::string step_key(const step_outcome& s) {
    std::string k(to_string(s.result));
    if (s.result == step_result::server_refused || s.result == step_result::device_refused)
        k += ": " + (s.code.empty() ? s.kind : s.code);
    return k;
}

const step_outcome* step_of(const probe_report& r, const std::string& persona, const std::string& step) {
    for (const auto& run : r.runs)
        if (run.persona == persona) return run.step(step);
    return nullptr;
}

const suite_check* check_of(const probe_report& r, const std::string& id) {
    if (!r.suite) return nullptr;
    for (const auto& c : r.suite->checks)
        if (c.id == id) return &c;
    return nullptr;
}

}  // namespace

result<comparison> run_compare(const probe_options& o, const std::string& url_b, const std::string& b_challenge,
                               std::ostream& progress) {
    comparison c;
    auto a = run_probe(o, progress);
    if (!a) return make_error("the first server (" + redact_url(o.url) + "): " + a.message());
    probe_options ob = o;
    ob.url = url_b;
    if (!b_challenge.empty()) {
        ob.challenge = b_challenge;
        ob.challenge_file.clear();
        ob.ndes_user.clear();
        ob.admin_token.clear();
    }
    auto b = run_probe(ob, progress);
    if (!b) return make_error("the second server (" + redact_url(url_b) + "): " + b.message());
    c.a = std::move(*a);
    c.b = std::move(*b);
    for (const auto& run : c.a.runs)
        for (const auto& name : probe_steps()) {
            const step_outcome* sa = step_of(c.a, run.persona, name);
            const step_outcome* sb = step_of(c.b, run.persona, name);
            if (!sa || !sb || step_key(*sa) == step_key(*sb)) continue;
            // A step one side never reached follows from an earlier difference, listed already.
            if (sa->result == step_result::not_reached || sb->result == step_result::not_reached) {
                ++c.unreached;
                continue;
            }
            c.differences.push_back({run.persona + " " + name, step_key(*sa), step_key(*sb),
                                     sa->summary + (sa->device_error.empty() ? "" : " [" + sa->device_error + "]"),
                                     sb->summary + (sb->device_error.empty() ? "" : " [" + sb->device_error + "]")});
        }
    // What each server shows any client, property by property: the same
    // comparison as `scep-lab clone --compare` (read-only requests only).
    clone_fetch_options fa;
    fa.url = o.url;
    fa.ca_file = o.ca_file;
    fa.timeout = std::chrono::seconds(o.timeout_seconds);
    clone_fetch_options fb = fa;
    fb.url = url_b;
    auto va = fetch_view(fa);
    auto vb = va ? fetch_view(fb) : result<clone::server_view>(make_error("not read"));
    if (va && vb) {
        for (const auto& d : clone::compare(clone::describe(*va), clone::describe(*vb))) {
            if (d.uncopyable) {
                ++c.configuration_expected;
                continue;
            }
            if (d.name == "scep.path") continue;  // each URL's own path
            c.differences.push_back({"configuration " + d.name, d.a, d.b, "", ""});
        }
    } else {
        c.configuration_note = "configuration not compared: " + (va ? vb.message() : va.message());
    }
    if (c.a.suite) {
        std::vector<std::string> ids;
        for (const auto& x : c.a.suite->checks) ids.push_back(x.id);
        if (c.b.suite)
            for (const auto& x : c.b.suite->checks)
                if (std::find(ids.begin(), ids.end(), x.id) == ids.end()) ids.push_back(x.id);
        for (const auto& id : ids) {
            const suite_check* xa = check_of(c.a, id);
            const suite_check* xb = check_of(c.b, id);
            std::string ra = xa ? xa->result : "absent", rb = xb ? xb->result : "absent";
            if (ra == rb) continue;
            c.differences.push_back({"suite " + id, ra, rb, xa ? xa->detail : "", xb ? xb->detail : ""});
        }
    }
    return c;
}

std::string compare_text(const comparison& c) {
    std::ostringstream o;
    o << "scep-lab probe --compare\n  A: " << c.a.url << (c.a.server.empty() ? "" : " (Server: " + c.a.server + ")")
      << "\n  B: " << c.b.url << (c.b.server.empty() ? "" : " (Server: " + c.b.server + ")") << "\n\n";
    if (!c.configuration_note.empty()) o << c.configuration_note << "\n\n";
    if (c.differences.empty()) {
        o << "no difference: every persona step, suite check and visible configuration property came out the same"
          << (c.configuration_expected ? " (" + std::to_string(c.configuration_expected) + " key, serial and date differences aside)" : "")
          << "\n";
        return o.str();
    }
    o << c.differences.size() << " difference(s)"
      << (c.unreached ? " (and " + std::to_string(c.unreached) + " later step(s) one side never reached)" : "") << ":\n";
    for (const auto& d : c.differences) {
        o << "  " << d.what << "\n    A: " << d.a << (d.a_detail.empty() ? "" : " - " + d.a_detail) << "\n    B: " << d.b
          << (d.b_detail.empty() ? "" : " - " + d.b_detail) << "\n";
    }
    return o.str();
}

std::string compare_markdown(const comparison& c) {
    std::ostringstream o;
    o << "# scep-lab probe --compare\n\n- A: " << md_cell(c.a.url) << "\n- B: " << md_cell(c.b.url) << "\n\n";
    if (c.differences.empty()) {
        o << "No difference: every persona step and suite check came out the same.\n";
        return o.str();
    }
    o << "| what | A | B | A said | B said |\n|---|---|---|---|---|\n";
    for (const auto& d : c.differences)
        o << "| " << md_cell(d.what) << " | " << md_cell(d.a) << " | " << md_cell(d.b) << " | " << md_cell(d.a_detail)
          << " | " << md_cell(d.b_detail) << " |\n";
    return o.str();
}

json::value compare_json(const comparison& c) {
    json::array diffs;
    for (const auto& d : c.differences)
        diffs.push_back(json::object{{"what", d.what}, {"a", d.a}, {"b", d.b}, {"a_detail", d.a_detail}, {"b_detail", d.b_detail}});
    return json::object{{"a", probe_json(c.a)},
                        {"b", probe_json(c.b)},
                        {"differences", std::move(diffs)},
                        {"not_reached_on_one_side", c.unreached},
                        {"configuration_expected_differences", c.configuration_expected},
                        {"configuration_note", c.configuration_note}};
}

}  // namespace scep::client
