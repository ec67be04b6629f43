// Dates and times as evidence writes them: ISO 8601 (HAR, the lab's own
// exports), IIS's "2026-12-05 10:11:12" (UTC), Event Viewer's exports in
// the exporting machine's locale ("12/5/2026 10:11:12 AM", "05.12.2026
// 10:11:12"). Without a zone a time is read as UTC.
#pragma once

#include <optional>
#include <string_view>

#include "pki/evidence/evidence.hpp"

namespace scep::evidence {

std::optional<time_point> parse_text_time(std::string_view text);

}  // namespace scep::evidence
