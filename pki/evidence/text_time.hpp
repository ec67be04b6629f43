// Dates and times as evidence writes them: ISO 8601 (HAR, the lab's own
// exports), IIS's "2026-12-05 10:11:12" (UTC), Event Viewer's exports in
// the exporting machine's locale ("12/5/2026 10:11:12 AM", "05.12.2026
// 10:11:12"). Without a zone a time is read as UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "pki/evidence/evidence.hpp"

namespace scep::evidence {

std::optional<time_point> parse_text_time(std::string_view text);

// Seconds (and microseconds) since 1970 as a time_point, clamped to
// 1970..2199: the clock counts nanoseconds in 64 bits and cannot hold a
// time after 2262, which a damaged file easily claims.
time_point clamped_time(std::int64_t seconds, std::int64_t micros = 0);

}  // namespace scep::evidence
