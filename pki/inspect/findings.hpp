// The inspector's catalogue: every finding a SCEP exchange can raise, with a
// stable ID, a severity, one sentence on what happened and why it matters,
// and where that comes from. docs/inspector.md is generated from this table
// (`scep-lab inspect --catalogue`) and checked against it by check.docs.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace scep::inspect {

// error: real servers refuse it; warning: some servers or clients break on
// it; note: worth knowing, harmless here.
enum class severity { note, warning, error };
std::string_view to_string(severity s);

struct finding_def {
    std::string_view id;
    severity level;
    std::string_view summary;    // what happened and why it matters
    std::string_view reference;  // RFC section, or the server/client behaviour
};

std::span<const finding_def> catalogue();
// nullptr for an ID that is not in the catalogue.
const finding_def* find_finding(std::string_view id);

// One raised finding; `detail` adds the particulars ("des-cbc", "12 bytes").
// `level`, when set, is this exchange's severity instead of the catalogue's:
// what the server did decides (a cipher it accepted is not an error here).
struct finding {
    std::string id;
    std::string detail;
    std::optional<severity> level = std::nullopt;
};
// This finding's severity: its own, else the catalogue's.
severity severity_of(const finding& f);
// Worst first (error, warning, note), raised order kept among equals: the
// finding that decided a refusal leads.
void order_by_severity(std::vector<finding>& found);
// Adds `id` (which must be in the catalogue) unless it is already there.
void raise(std::vector<finding>& out, std::string_view id, std::string detail = {});
// The worst severity among `found`; nullopt when empty.
std::optional<severity> worst(const std::vector<finding>& found);

// The catalogue as a Markdown table (docs/inspector.md's body).
std::string catalogue_markdown();

}  // namespace scep::inspect
