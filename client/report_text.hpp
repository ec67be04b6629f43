// Text escaping the reports share (conformance scorecards, probe reports).
#pragma once

#include <string>
#include <string_view>

namespace scep::client {

// markup_escape, after the control characters XML 1.0 cannot carry (all but
// tab and newlines) are replaced.
std::string xml_escape(std::string_view s);
// A Markdown table cell: '|' escaped, line ends as spaces.
std::string md_cell(std::string_view s);

}  // namespace scep::client
