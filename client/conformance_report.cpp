// Conformance scorecards: Markdown for people, JUnit XML for CI.
#include "client/conformance.hpp"

#include <iomanip>
#include <sstream>

#include "client/report_text.hpp"
#include "pki/crypto/encoding.hpp"

namespace scep::client {


verdict_count count_verdicts(const std::vector<case_result>& results) {
    verdict_count t;
    for (const auto& r : results) {
        if (r.v == verdict::pass) ++t.pass;
        else if (r.v == verdict::fail) ++t.fail;
        else if (r.v == verdict::not_exercised) ++t.not_exercised;
        else ++t.reported;
    }
    return t;
}

std::string summary_text(const verdict_count& t) {
    std::string out = std::to_string(t.pass) + " pass, " + std::to_string(t.fail) + " FAIL, " +
                      std::to_string(t.reported) + " reported";
    if (t.not_exercised) out += ", " + std::to_string(t.not_exercised) + " not exercised";
    return out;
}

std::string scorecard_markdown(const std::string& client, const std::string& version, const std::string& date,
                               const std::vector<case_result>& results) {
    auto t = count_verdicts(results);
    std::ostringstream o;
    o << "### " << md_cell(client) << "\n\n";
    o << "Client: " << md_cell(version) << ". Run: " << md_cell(date) << ". " << summary_text(t) << ".\n\n";
    o << "| Case | Expected | Verdict | Outcome | Detail |\n|---|---|---|---|---|\n";
    for (const auto& r : results)
        o << "| " << md_cell(r.c.name) << " | " << to_string(r.c.expect) << " | "
          << (r.v == verdict::fail ? "**FAIL**" : std::string(to_string(r.v))) << (r.observed ? " (observed)" : "")
          << " | " << md_cell(r.outcome) << " | "
          << md_cell(r.detail) << " |\n";
    return o.str();
}

std::string scorecard_junit(const std::string& client, const std::vector<case_result>& results) {
    auto t = count_verdicts(results);
    double total = 0;
    for (const auto& r : results) total += r.seconds;
    std::ostringstream o;
    o << std::fixed << std::setprecision(3);
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    o << "<testsuites name=\"scep-lab conformance\" tests=\"" << results.size() << "\" failures=\"" << t.fail
      << "\" time=\"" << total << "\">\n";
    o << "  <testsuite name=\"" << xml_escape(client) << "\" tests=\"" << results.size() << "\" failures=\"" << t.fail
      << "\" skipped=\"" << t.not_exercised << "\" time=\"" << total << "\">\n";
    // JUnit readers split the class name at dots: the client's name keeps none.
    for (const auto& r : results) {
        o << "    <testcase classname=\"scep-lab.conformance." << xml_escape(junit_name(client)) << "\" name=\""
          << xml_escape(r.c.name) << "\" time=\"" << r.seconds << "\">\n";
        if (r.v == verdict::not_exercised)
            o << "      <skipped message=\"" << xml_escape(r.detail) << "\"/>\n";
        if (r.v == verdict::fail)
            o << "      <failure message=\"" << xml_escape(r.outcome + ": " + r.detail) << "\" type=\"expected "
              << to_string(r.c.expect) << "\">" << xml_escape(r.c.why) << "</failure>\n";
        o << "      <system-out>" << xml_escape(std::string(to_string(r.v)) + ": " + r.outcome +
                                               (r.detail.empty() ? "" : " (" + r.detail + ")"))
          << "</system-out>\n";
        o << "    </testcase>\n";
    }
    o << "  </testsuite>\n</testsuites>\n";
    return o.str();
}

}  // namespace scep::client
