// EVTX, the event log's binary form, through libevtx (Debian libevtx-dev,
// https://github.com/libyal/libevtx): Binary XML, templates and chunk
// checksums are its work. Each record is taken as the XML libevtx renders,
// and the few fields a timeline needs are read from that text (bounded):
// the provider, EventID, Level, TimeCreated and the EventData values. An
// EVTX holds no message text (Event Viewer renders it from the provider's
// message file on Windows): the event's text here is its data values.
#include <libevtx.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "pki/evidence/evidence.hpp"
#include "pki/evidence/text_time.hpp"

namespace scep::evidence {

namespace {

std::string evtx_error(libevtx_error_t* e) {
    if (!e) return "libevtx reported no reason";
    char buf[512] = {};
    libevtx_error_sprint(e, buf, sizeof buf);
    libevtx_error_free(&e);
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '.')) s.pop_back();
    for (char& c : s)
        if (c == '\n') c = ' ';
    return s;
}

struct file_closer {
    void operator()(libevtx_file_t* f) const {
        libevtx_file_close(f, nullptr);
        libevtx_file_free(&f, nullptr);
    }
};
struct record_freer {
    void operator()(libevtx_record_t* r) const { libevtx_record_free(&r, nullptr); }
};

// XML text back to characters: the five entities and numeric references.
std::string unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '&') {
            out += s[i];
            continue;
        }
        const auto semi = s.find(';', i);
        if (semi == std::string_view::npos || semi - i > 10) {
            out += s[i];
            continue;
        }
        const std::string_view e = s.substr(i + 1, semi - i - 1);
        if (e == "amp") out += '&';
        else if (e == "lt") out += '<';
        else if (e == "gt") out += '>';
        else if (e == "quot") out += '"';
        else if (e == "apos") out += '\'';
        else if (!e.empty() && e[0] == '#') {
            unsigned long cp = 0;
            try {
                cp = e.size() > 1 && (e[1] == 'x' || e[1] == 'X') ? std::stoul(std::string(e.substr(2)), nullptr, 16)
                                                                    : std::stoul(std::string(e.substr(1)));
            } catch (...) {
                cp = '?';
            }
            // UTF-8 of the code point (replacement character when out of range).
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
            if (cp < 0x80) out += static_cast<char>(cp);
            else if (cp < 0x800) {
                out += static_cast<char>(0xC0 | (cp >> 6));
                out += static_cast<char>(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                out += static_cast<char>(0xE0 | (cp >> 12));
                out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                out += static_cast<char>(0x80 | (cp & 0x3F));
            } else {
                out += static_cast<char>(0xF0 | (cp >> 18));
                out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
                out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                out += static_cast<char>(0x80 | (cp & 0x3F));
            }
        } else {
            out += s.substr(i, semi - i + 1);
        }
        i = semi;
    }
    return out;
}

// The text of the first <tag ...>text</tag> (or "" for <tag .../>), from `from`.
std::optional<std::string> element_text(std::string_view xml, std::string_view tag, std::size_t& from) {
    const std::string open = "<" + std::string(tag);
    for (;;) {
        auto at = xml.find(open, from);
        if (at == std::string_view::npos) return std::nullopt;
        const auto after = at + open.size();
        if (after < xml.size() && xml[after] != '>' && xml[after] != ' ' && xml[after] != '/') {
            from = after;
            continue;
        }
        const auto gt = xml.find('>', after);
        if (gt == std::string_view::npos) return std::nullopt;
        if (xml[gt - 1] == '/') {
            from = gt + 1;
            return std::string();
        }
        const auto close = xml.find("</" + std::string(tag) + ">", gt);
        if (close == std::string_view::npos) return std::nullopt;
        from = close + tag.size() + 3;
        return unescape(xml.substr(gt + 1, close - gt - 1));
    }
}

// The value of attribute `attr` of the first <tag ...>.
std::string attribute(std::string_view xml, std::string_view tag, std::string_view attr) {
    const std::string open = "<" + std::string(tag) + " ";
    const auto at = xml.find(open);
    if (at == std::string_view::npos) return {};
    const auto gt = xml.find('>', at);
    const std::string_view head = xml.substr(at, gt == std::string_view::npos ? std::string_view::npos : gt - at);
    const std::string key = " " + std::string(attr) + "=\"";
    const auto k = head.find(key);
    if (k == std::string_view::npos) return {};
    const auto end = head.find('"', k + key.size());
    if (end == std::string_view::npos) return {};
    return unescape(head.substr(k + key.size(), end - k - key.size()));
}

std::string level_name(std::string_view level) {
    if (level == "1") return "Critical";
    if (level == "2") return "Error";
    if (level == "3") return "Warning";
    if (level == "4" || level == "0") return "Information";
    if (level == "5") return "Verbose";
    return std::string(level);
}

time_point from_filetime(std::uint64_t ft) {
    // 100-ns intervals since 1601-01-01.
    constexpr std::uint64_t epoch_diff = 116444736000000000ull;
    if (ft < epoch_diff) return time_point{};
    const std::uint64_t micros = (ft - epoch_diff) / 10;
    return clamped_time(static_cast<std::int64_t>(micros / 1000000), static_cast<std::int64_t>(micros % 1000000));
}

}  // namespace

// libevtx 20181227 (Debian bookworm) leaks a few kilobytes inside libfwevt
// when a record's Binary XML is malformed (found by fuzz_evtx): LeakSanitizer
// is told not to report what that library allocated, and a file stops being
// read after max_unreadable such records, which bounds what leaks.
#if defined(__SANITIZE_ADDRESS__)
#define SCEP_LAB_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCEP_LAB_LSAN 1
#endif
#endif
#ifdef SCEP_LAB_LSAN
extern "C" const char* __lsan_default_suppressions() { return "leak:libevtx.so\n"; }
#endif

namespace {
constexpr int max_unreadable = 1000;
}  // namespace

result<void> read_evtx(const std::filesystem::path& file, const std::string& name, sink& out, const limits& lim) {
    libevtx_file_t* raw = nullptr;
    libevtx_error_t* err = nullptr;
    if (libevtx_file_initialize(&raw, &err) != 1) return make_error(name + ": " + evtx_error(err));
    if (libevtx_file_open(raw, file.c_str(), libevtx_get_access_flags_read(), &err) != 1) {
        libevtx_file_free(&raw, nullptr);
        return make_error(name + ": not a readable EVTX file (" + evtx_error(err) + ")");
    }
    std::unique_ptr<libevtx_file_t, file_closer> f(raw);
    int count = 0;
    if (libevtx_file_get_number_of_records(f.get(), &count, &err) != 1)
        return make_error(name + ": " + evtx_error(err));
    std::string xml;
    int unreadable = 0;
    auto damaged = [&](const place& where) -> result<void> {
        return make_error(name + ": more than " + std::to_string(max_unreadable) +
                          " records cannot be read (the last: " + where.where + "): the file is damaged");
    };
    for (int i = 0; i < count; ++i) {
        const place at{name, "record " + std::to_string(i + 1)};
        libevtx_record_t* rec_raw = nullptr;
        if (libevtx_file_get_record_by_index(f.get(), i, &rec_raw, &err) != 1) {
            out.note(at, "unreadable: " + evtx_error(err));
            err = nullptr;
            if (++unreadable > max_unreadable) return damaged(at);
            continue;
        }
        std::unique_ptr<libevtx_record_t, record_freer> rec(rec_raw);
        off64_t offset = 0;
        (void)libevtx_record_get_offset(rec.get(), &offset, nullptr);
        place where = at;
        if (offset > 0) where.where += " (offset " + std::to_string(offset) + ")";
        std::uint64_t written = 0;
        (void)libevtx_record_get_written_time(rec.get(), &written, nullptr);
        std::size_t size = 0;
        if (libevtx_record_get_utf8_xml_string_size(rec.get(), &size, &err) != 1 || size == 0) {
            out.note(where, "its XML cannot be rendered: " + evtx_error(err));
            err = nullptr;
            if (++unreadable > max_unreadable) return damaged(where);
            continue;
        }
        if (size > lim.max_line * 16) {
            out.note(where, "an event of " + std::to_string(size) + " bytes of XML: skipped");
            continue;
        }
        xml.assign(size, '\0');
        if (libevtx_record_get_utf8_xml_string(rec.get(), reinterpret_cast<std::uint8_t*>(xml.data()), size, &err) != 1) {
            out.note(where, "its XML cannot be rendered: " + evtx_error(err));
            err = nullptr;
            if (++unreadable > max_unreadable) return damaged(where);
            continue;
        }
        xml.resize(std::strlen(xml.c_str()));
        ndes_event e;
        e.at = where;
        std::size_t pos = 0;
        auto id = element_text(xml, "EventID", pos);
        if (!id) {
            out.note(where, "an event without an EventID: skipped");
            continue;
        }
        try {
            e.id = std::stoi(*id);
        } catch (...) {
            out.note(where, "an EventID that is not a number: skipped");
            continue;
        }
        pos = 0;
        e.level = level_name(element_text(xml, "Level", pos).value_or(""));
        e.source = attribute(xml, "Provider", "Name");
        const std::string created = attribute(xml, "TimeCreated", "SystemTime");
        e.time = parse_text_time(created).value_or(from_filetime(written));
        e.task = "EventData";
        pos = 0;
        for (int n = 0; n < 64; ++n) {
            auto data = element_text(xml, "Data", pos);
            if (!data) break;
            if (!data->empty()) e.text += (e.text.empty() ? "" : "; ") + *data;
            if (e.text.size() > 8192) {
                e.text.resize(8192);
                break;
            }
        }
        out.event(std::move(e));
    }
    return {};
}

}  // namespace scep::evidence
