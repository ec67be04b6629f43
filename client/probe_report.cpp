// Probe reports: text and Markdown for people, JUnit XML for CI, JSON for tools.
#include <sstream>

#include <boost/json.hpp>

#include "client/probe.hpp"
#include "client/report_text.hpp"

namespace scep::client {

namespace json = boost::json;

namespace {

using minted_t = minted;

// A matrix cell: short enough for a terminal.
std::string cell(const step_outcome& s) {
    switch (s.result) {
        case step_result::passed: return "ok";
        case step_result::skipped: return "-";
        case step_result::not_reached: return ".";
        case step_result::server_refused: return "server: " + (s.code.empty() ? s.kind : s.code);
        case step_result::device_refused: return "device: " + (s.code.empty() ? s.kind : s.code);
    }
    return "?";
}


std::string step_line(const step_outcome& s) {
    std::string out = "  " + s.step + ": " + std::string(to_string(s.result));
    if (!s.summary.empty()) out += " - " + s.summary;
    if (!s.device_error.empty()) out += " [device: " + s.device_error + "]";
    return out + "\n";
}

}  // namespace

std::string probe_text(const probe_report& r) {
    std::ostringstream o;
    o << "scep-lab probe " << r.url << (r.server.empty() ? "" : " (Server: " + r.server + ")")
      << (r.dry_run ? ", dry run" : "") << "\n";
    if (r.runs.size() > 1) {
        // personas x steps, each column as wide as its widest cell
        std::size_t width = 8;
        for (const auto& run : r.runs) width = std::max(width, run.persona.size() + 2);
        std::vector<std::size_t> widths;
        for (const auto& name : probe_steps()) {
            std::size_t w = name.size();
            for (const auto& run : r.runs)
                if (const step_outcome* s = run.step(name)) w = std::max(w, cell(*s).size());
            widths.push_back(w + 2);
        }
        o << "\n" << std::string(width, ' ');
        for (std::size_t i = 0; i < widths.size(); ++i)
            o << probe_steps()[i] << std::string(widths[i] - probe_steps()[i].size(), ' ');
        o << "\n";
        for (const auto& run : r.runs) {
            o << run.persona << std::string(width - run.persona.size(), ' ');
            for (std::size_t i = 0; i < widths.size(); ++i) {
                const step_outcome* s = run.step(probe_steps()[i]);
                std::string c = s ? cell(*s) : ".";
                o << c << std::string(widths[i] - c.size(), ' ');
            }
            o << "\n";
        }
    }
    for (const auto& run : r.runs) {
        o << "\n" << run.persona << " (" << run.title << "): " << (run.clean() ? "enrolls" : "does not get through")
          << "\n";
        for (const auto& s : run.steps) {
            if (s.result == step_result::not_reached) continue;
            o << step_line(s);
            for (const auto& n : s.notes) o << "    note: " << n << "\n";
            for (const auto& x : s.exchanges)
                o << "    " << x.method << " " << x.target << " -> " << x.summary << "\n";
        }
    }
    if (r.suite) {
        const auto& s = *r.suite;
        std::size_t passed = 0, notes = 0, skipped = 0;
        for (const auto& c : s.checks) {
            passed += c.result == "pass";
            notes += c.result == "note";
            skipped += c.result == "skipped";
        }
        o << "\nsuite " << s.name << ": " << s.checks.size() << " checks, " << passed << " passed, " << s.findings()
          << " finding(s), " << notes << " note(s), " << skipped << " skipped\n";
        for (const auto& c : s.checks)
            o << "  " << (c.result == "pass" ? "pass   " : c.result == "finding" ? "FINDING" : c.result == "note" ? "note   " : "skipped")
              << " " << c.id << " (" << c.section << ")" << (c.detail.empty() ? "" : ": " + c.detail) << "\n";
    }
    std::size_t minted = 0;
    for (const auto& run : r.runs) minted += run.certificates.size();
    if (r.suite) minted += r.suite->certificates.size();
    o << "\nfootprint: " << minted << " certificate(s) issued";
    o << (minted ? ":\n" : "\n");
    auto line = [&](const minted_t& m) {
        o << "  " << m.persona << " " << m.step << ": serial " << m.serial << ", " << m.subject << ", until " << m.not_after
          << "\n";
    };
    for (const auto& run : r.runs)
        for (const auto& m : run.certificates) line(m);
    if (r.suite)
        for (const auto& m : r.suite->certificates) line(m);
    return o.str();
}

std::string probe_markdown(const probe_report& r) {
    std::ostringstream o;
    o << "# scep-lab probe: " << md_cell(r.url) << "\n\n";
    if (!r.server.empty()) o << "Server header: `" << md_cell(r.server) << "`" << (r.dry_run ? " (dry run)" : "") << "\n\n";
    if (!r.runs.empty()) o << "| persona |";
    if (!r.runs.empty())
        for (const auto& s : probe_steps()) o << " " << s << " |";
    if (!r.runs.empty()) {
        o << "\n|---|";
        for (std::size_t i = 0; i < probe_steps().size(); ++i) o << "---|";
        o << "\n";
    }
    for (const auto& run : r.runs) {
        o << "| " << run.persona << " |";
        for (const auto& name : probe_steps()) {
            const step_outcome* s = run.step(name);
            o << " " << md_cell(s ? cell(*s) : ".") << " |";
        }
        o << "\n";
    }
    for (const auto& run : r.runs) {
        o << "\n## " << run.persona << "\n\n" << md_cell(run.title) << "\n\n| step | result | what happened | device error |\n|---|---|---|---|\n";
        for (const auto& s : run.steps)
            o << "| " << s.step << " | " << to_string(s.result) << " | " << md_cell(s.summary) << " | "
              << md_cell(s.device_error) << " |\n";
    }
    if (r.suite) {
        o << "\n## Suite " << r.suite->name << ": " << r.suite->findings() << " finding(s)\n\n| check | RFC 8894 | result | what a correct server does | what this one did |\n|---|---|---|---|---|\n";
        for (const auto& c : r.suite->checks)
            o << "| `" << c.id << "` | " << c.section << " | " << c.result << " | " << md_cell(c.title) << " | "
              << md_cell(c.detail) << " |\n";
    }
    o << "\n## Footprint\n\n";
    bool any = false;
    std::vector<minted_t> all_minted;
    for (const auto& run : r.runs) all_minted.insert(all_minted.end(), run.certificates.begin(), run.certificates.end());
    if (r.suite) all_minted.insert(all_minted.end(), r.suite->certificates.begin(), r.suite->certificates.end());
    {
        const auto& m_list = all_minted;
        for (const auto& m : m_list) {
            if (!any) o << "| persona | step | serial | subject | not after |\n|---|---|---|---|---|\n";
            any = true;
            o << "| " << m.persona << " | " << m.step << " | " << m.serial << " | " << md_cell(m.subject) << " | "
              << m.not_after << " |\n";
        }
    }
    if (!any) o << "No certificate was issued.\n";
    return o.str();
}

std::string probe_junit(const probe_report& r) {
    std::ostringstream o;
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"scep-lab probe\">\n";
    for (const auto& run : r.runs) {
        std::size_t failures = 0, skipped = 0;
        for (const auto& s : run.steps) {
            failures += s.result == step_result::server_refused || s.result == step_result::device_refused;
            skipped += s.result == step_result::skipped || s.result == step_result::not_reached;
        }
        o << "  <testsuite name=\"" << xml_escape(run.persona) << "\" tests=\"" << run.steps.size() << "\" failures=\""
          << failures << "\" skipped=\"" << skipped << "\" time=\"" << run.seconds << "\">\n";
        for (const auto& s : run.steps) {
            o << "    <testcase classname=\"scep-lab.probe." << xml_escape(run.persona) << "\" name=\""
              << xml_escape(s.step) << "\">\n";
            if (s.result == step_result::skipped || s.result == step_result::not_reached)
                o << "      <skipped message=\"" << xml_escape(s.summary) << "\"/>\n";
            else if (s.result != step_result::passed)
                o << "      <failure message=\"" << xml_escape(std::string(to_string(s.result)) + ": " + s.summary)
                  << "\" type=\"" << xml_escape(s.kind) << "\">" << xml_escape(s.device_error) << "</failure>\n";
            o << "    </testcase>\n";
        }
        o << "  </testsuite>\n";
    }
    if (r.suite) {
        const auto& su = *r.suite;
        std::size_t skipped = 0;
        for (const auto& c : su.checks) skipped += c.result == "skipped";
        o << "  <testsuite name=\"suite." << xml_escape(su.name) << "\" tests=\"" << su.checks.size() << "\" failures=\""
          << su.findings() << "\" skipped=\"" << skipped << "\" time=\"" << su.seconds << "\">\n";
        for (const auto& c : su.checks) {
            o << "    <testcase classname=\"scep-lab.probe.suite." << xml_escape(su.name) << "\" name=\"" << xml_escape(c.id)
              << "\">\n";
            if (c.result == "skipped")
                o << "      <skipped message=\"" << xml_escape(c.detail) << "\"/>\n";
            else if (c.result == "finding")
                o << "      <failure message=\"" << xml_escape(c.detail) << "\" type=\"RFC 8894 " << xml_escape(c.section)
                  << "\">" << xml_escape(c.title) << "</failure>\n";
            o << "      <system-out>" << xml_escape(c.result + ": " + c.detail) << "</system-out>\n";
            o << "    </testcase>\n";
        }
        o << "  </testsuite>\n";
    }
    o << "</testsuites>\n";
    return o.str();
}

json::value probe_json(const probe_report& r) {
    json::object out;
    out["url"] = r.url;
    out["server"] = r.server;
    out["dry_run"] = r.dry_run;
    out["real_time"] = r.real_time;
    out["clean"] = r.clean();
    json::array runs;
    for (const auto& run : r.runs) {
        json::object jr;
        jr["persona"] = run.persona;
        jr["title"] = run.title;
        jr["clean"] = run.clean();
        json::array steps;
        for (const auto& s : run.steps) {
            json::object js;
            js["step"] = s.step;
            js["result"] = std::string(to_string(s.result));
            js["summary"] = s.summary;
            if (!s.kind.empty()) js["kind"] = s.kind;
            if (!s.device_error.empty()) js["device_error"] = s.device_error;
            json::array notes;
            for (const auto& n : s.notes) notes.emplace_back(n);
            js["notes"] = std::move(notes);
            json::array xs;
            for (const auto& x : s.exchanges) {
                json::object jx;
                jx["method"] = x.method;
                jx["target"] = x.target;
                jx["status"] = x.status;
                jx["content_type"] = x.content_type;
                jx["request_bytes"] = x.request_bytes;
                jx["reply_bytes"] = x.reply_bytes;
                jx["summary"] = x.summary;
                if (!x.error.empty()) jx["error"] = x.error;
                if (!x.request.is_null()) jx["request"] = x.request;
                if (!x.reply.is_null()) jx["reply"] = x.reply;
                xs.push_back(std::move(jx));
            }
            js["exchanges"] = std::move(xs);
            steps.push_back(std::move(js));
        }
        jr["steps"] = std::move(steps);
        json::array certs;
        for (const auto& m : run.certificates)
            certs.push_back(json::object{{"step", m.step}, {"serial", m.serial}, {"subject", m.subject}, {"not_after", m.not_after}});
        jr["footprint"] = std::move(certs);
        runs.push_back(std::move(jr));
    }
    out["personas"] = std::move(runs);
    if (r.suite) {
        json::object js;
        js["name"] = r.suite->name;
        js["findings"] = r.suite->findings();
        js["seconds"] = r.suite->seconds;
        json::array checks;
        for (const auto& c : r.suite->checks) {
            json::object jc{{"id", c.id}, {"section", c.section}, {"title", c.title}, {"result", c.result}, {"detail", c.detail}};
            if (!c.persona.empty()) jc["persona"] = c.persona;
            checks.push_back(std::move(jc));
        }
        js["checks"] = std::move(checks);
        json::array certs;
        for (const auto& m : r.suite->certificates)
            certs.push_back(json::object{{"serial", m.serial}, {"subject", m.subject}, {"not_after", m.not_after}});
        js["footprint"] = std::move(certs);
        out["suite"] = std::move(js);
    }
    return out;
}

}  // namespace scep::client
