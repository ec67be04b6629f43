// Text evidence: IIS W3C logs (https://learn.microsoft.com/en-us/previous-versions/iis/6.0-sdk/ms525807(v=vs.90),
// "W3C Extended Log File Format (IIS 6.0)"; the same in IIS 7 and later)
// and NDES event log exports (Event Viewer's "Save All Events As..." text,
// tab-separated, and CSV), line by line with every line bounded.
#include <algorithm>
#include <charconv>
#include <ctime>

#include "pki/crypto/encoding.hpp"
#include "pki/evidence/evidence.hpp"
#include "pki/evidence/text_time.hpp"

namespace scep::evidence {

namespace {

// One line at a time, bounded; CRLF or LF.
class line_reader {
public:
    line_reader(std::istream& in, std::string name, const limits& lim) : in_(in), name_(std::move(name)), lim_(lim) {}
    // false at the end; an error for a line over the bound.
    result<bool> next(std::string& line) {
        line.clear();
        if (!in_.good()) return false;
        char c;
        bool any = false;
        while (in_.get(c)) {
            any = true;
            ++offset_;
            if (c == '\n') break;
            if (line.size() >= lim_.max_line)
                return make_error(name_ + ": line " + std::to_string(number_ + 1) + " (offset " +
                                  std::to_string(offset_ - line.size() - 1) + ") is longer than " +
                                  std::to_string(lim_.max_line) + " bytes: not a log line");
            line += c;
        }
        if (!any) return false;
        ++number_;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (number_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // a UTF-8 byte order mark
        return true;
    }
    std::uint64_t number() const { return number_; }
    place here() const { return {name_, "line " + std::to_string(number_)}; }
    const std::string& name() const { return name_; }

private:
    std::istream& in_;
    std::string name_;
    const limits& lim_;
    std::uint64_t number_ = 0, offset_ = 0;
};

// W3C fields are space-separated: several spaces are one separator.
std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size() && out.size() < 64) {
        while (i < line.size() && line[i] == ' ') ++i;
        if (i >= line.size()) break;
        auto j = line.find(' ', i);
        if (j == std::string_view::npos) j = line.size();
        out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

template <class T>
bool number(std::string_view s, T& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size();
}

std::string value(std::string_view v) { return v == "-" ? std::string() : std::string(v); }

}  // namespace

result<void> read_iis_log(std::istream& in, const std::string& name, sink& out, const limits& lim) {
    line_reader lines(in, name, lim);
    std::vector<std::string> names;  // the #Fields columns
    std::string date_directive;      // #Date's day, for logs without a date column
    std::string line;
    for (;;) {
        auto r = lines.next(line);
        if (!r) return r.err();
        if (!*r) break;
        if (line.empty()) continue;
        if (line.front() == '#') {
            if (line.starts_with("#Fields:")) {
                names.clear();
                for (auto f : fields(std::string_view(line).substr(8))) names.emplace_back(f);
                if (names.empty()) return make_error(lines.here().text() + ": a #Fields line that names no field");
            } else if (line.starts_with("#Date:")) {
                auto f = fields(std::string_view(line).substr(6));
                if (!f.empty()) date_directive = std::string(f[0]);
            }
            continue;
        }
        if (names.empty())
            return make_error(lines.here().text() +
                              ": an entry before any #Fields line (not a W3C log, or its header was cut off)");
        auto f = fields(line);
        if (f.size() != names.size()) {
            out.note(lines.here(), "an entry with " + std::to_string(f.size()) + " fields where #Fields names " +
                                       std::to_string(names.size()) + ": skipped");
            continue;
        }
        iis_entry e;
        e.at = lines.here();
        std::string date = date_directive, time;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const std::string& n = names[i];
            const std::string_view v = f[i];
            if (n == "date") date = std::string(v);
            else if (n == "time") time = std::string(v);
            else if (n == "c-ip") e.client = value(v);
            else if (n == "s-ip") e.server = value(v);
            else if (n == "s-port") (void)number(v, e.server_port);
            else if (n == "cs-method") e.method = value(v);
            else if (n == "cs-uri-stem") e.uri_stem = value(v);
            else if (n == "cs-uri-query") e.uri_query = value(v);
            else if (n == "cs-username") e.username = value(v);
            else if (n == "cs(User-Agent)") {
                // IIS writes spaces in the user agent as '+'.
                e.user_agent = value(v);
                std::replace(e.user_agent.begin(), e.user_agent.end(), '+', ' ');
            } else if (n == "sc-status") (void)number(v, e.status);
            else if (n == "sc-substatus") (void)number(v, e.substatus);
            else if (n == "sc-win32-status") {
                std::uint32_t w = 0;
                if (number(v, w)) e.win32_status = w;
            } else if (n == "time-taken") (void)number(v, e.time_taken_ms);
        }
        auto when = parse_text_time(date + " " + time);
        if (!when) {
            out.note(lines.here(), "an entry without a readable date and time: skipped");
            continue;
        }
        e.time = *when;
        out.iis(std::move(e));
    }
    if (names.empty()) return make_error(name + ": no #Fields line: not an IIS W3C log");
    return {};
}

namespace {

// A CSV record (RFC 4180): quoted fields may hold separators, quotes ("")
// and line breaks; the reader takes further lines for them.
result<std::vector<std::string>> csv_record(line_reader& lines, std::string first, char sep, std::size_t max) {
    std::vector<std::string> out(1);
    std::string line = std::move(first);
    bool quoted = false;
    for (;;) {
        for (std::size_t i = 0; i < line.size(); ++i) {
            const char c = line[i];
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < line.size() && line[i + 1] == '"') {
                        out.back() += '"';
                        ++i;
                    } else {
                        quoted = false;
                    }
                } else {
                    out.back() += c;
                }
            } else if (c == '"' && out.back().empty()) {
                quoted = true;
            } else if (c == sep) {
                if (out.size() >= 64) return make_error(lines.here().text() + ": more than 64 fields");
                out.emplace_back();
            } else {
                out.back() += c;
            }
        }
        if (!quoted) return out;
        std::size_t total = 0;
        for (const auto& f : out) total += f.size();
        if (total > max) return make_error(lines.here().text() + ": a quoted field longer than " + std::to_string(max) + " bytes");
        auto r = lines.next(line);
        if (!r) return r.err();
        if (!*r) return make_error(lines.name() + ": the file ends inside a quoted field (line " + std::to_string(lines.number()) + ")");
        out.back() += '\n';
    }
}

}  // namespace

result<void> read_ndes_events(std::istream& in, const std::string& name, sink& out, const limits& lim) {
    line_reader lines(in, name, lim);
    std::string line;
    auto r = lines.next(line);
    if (!r) return r.err();
    if (!*r) return make_error(name + ": empty file");
    // The header decides the separator and the columns.
    const char sep = line.find('\t') != std::string::npos ? '\t' : ',';
    auto header = csv_record(lines, line, sep, lim.max_line);
    if (!header) return header.err();
    int level = -1, when = -1, source = -1, id = -1, task = -1;
    for (std::size_t i = 0; i < header->size(); ++i) {
        const std::string& h = (*header)[i];
        if (h == "Level" || h == "Keywords") level = level < 0 ? static_cast<int>(i) : level;
        if (h == "Date and Time" || h == "TimeCreated") when = static_cast<int>(i);
        if (h == "Source" || h == "ProviderName") source = static_cast<int>(i);
        if (h == "Event ID" || h == "Id") id = static_cast<int>(i);
        if (h == "Task Category" || h == "TaskDisplayName") task = static_cast<int>(i);
    }
    if (when < 0 || id < 0)
        return make_error(name + ": line 1 is not an event log export's header (it needs \"Date and Time\" and \"Event ID\")");
    for (;;) {
        auto got = lines.next(line);
        if (!got) return got.err();
        if (!*got) break;
        if (line.empty()) continue;
        const place at = lines.here();
        auto rec = csv_record(lines, line, sep, lim.max_line);
        if (!rec) return rec.err();
        auto& f = *rec;
        auto col = [&](int i) { return i >= 0 && static_cast<std::size_t>(i) < f.size() ? f[i] : std::string(); };
        ndes_event e;
        e.at = at;
        e.level = col(level);
        e.source = col(source);
        e.task = col(task);
        if (!number(std::string_view(col(id)), e.id)) {
            out.note(at, "an event without a numeric Event ID: skipped");
            continue;
        }
        auto t = parse_text_time(col(when));
        if (!t) {
            out.note(at, "an event without a readable date and time: skipped");
            continue;
        }
        e.time = *t;
        // The text: the columns after the header's (Event Viewer puts the
        // message after the named columns, without a header of its own).
        for (std::size_t i = header->size(); i < f.size(); ++i) e.text += (e.text.empty() ? "" : "\t") + f[i];
        for (std::size_t i = 0; i < header->size() && i < f.size(); ++i)
            if ((*header)[i] == "Message") e.text = f[i];
        if (e.text.size() > 8192) e.text.resize(8192);
        out.event(std::move(e));
    }
    return {};
}

}  // namespace scep::evidence
