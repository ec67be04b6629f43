#include "pki/evidence/text_time.hpp"

#include <cctype>
#include <cstdio>

namespace scep::evidence {

namespace {

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct cursor {
    std::string_view s;
    std::size_t i = 0;
    bool number(int& v, int min_digits, int max_digits) {
        int n = 0;
        v = 0;
        while (i < s.size() && n < max_digits && std::isdigit(static_cast<unsigned char>(s[i]))) {
            v = v * 10 + (s[i] - '0');
            ++i;
            ++n;
        }
        return n >= min_digits;
    }
    bool eat(char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    void spaces() {
        while (i < s.size() && s[i] == ' ') ++i;
    }
    bool done() const { return i == s.size(); }
};

}  // namespace

std::optional<time_point> parse_text_time(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    cursor c{text};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    int a = 0;
    if (!c.number(a, 1, 4)) return std::nullopt;
    if (c.eat('-')) {  // ISO: year-month-day
        y = a;
        if (!c.number(mo, 1, 2) || !c.eat('-') || !c.number(d, 1, 2)) return std::nullopt;
    } else if (c.eat('/')) {  // en-US: month/day/year
        mo = a;
        if (!c.number(d, 1, 2) || !c.eat('/') || !c.number(y, 4, 4)) return std::nullopt;
    } else if (c.eat('.')) {  // day.month.year
        d = a;
        if (!c.number(mo, 1, 2) || !c.eat('.') || !c.number(y, 4, 4)) return std::nullopt;
    } else {
        return std::nullopt;
    }
    if (!c.eat('T')) c.spaces();
    if (!c.number(h, 1, 2) || !c.eat(':') || !c.number(mi, 2, 2)) return std::nullopt;
    if (c.eat(':') && !c.number(sec, 2, 2)) return std::nullopt;
    std::int64_t micros = 0;
    if (c.eat('.') || c.eat(',')) {
        int digits = 0;
        while (!c.done() && std::isdigit(static_cast<unsigned char>(c.s[c.i]))) {
            if (digits < 6) micros = micros * 10 + (c.s[c.i] - '0');
            ++digits;
            ++c.i;
        }
        if (digits == 0) return std::nullopt;
        for (int k = digits; k < 6; ++k) micros *= 10;
    }
    c.spaces();
    // AM/PM (the en-US export).
    if (c.i + 2 <= c.s.size() && (c.s.substr(c.i, 2) == "AM" || c.s.substr(c.i, 2) == "PM")) {
        if (h < 1 || h > 12) return std::nullopt;
        const bool pm = c.s[c.i] == 'P';
        h = h % 12 + (pm ? 12 : 0);
        c.i += 2;
        c.spaces();
    }
    std::int64_t offset = 0;  // seconds east of UTC
    if (c.eat('Z')) {
    } else if (c.i < c.s.size() && (c.s[c.i] == '+' || c.s[c.i] == '-')) {
        const bool minus = c.s[c.i] == '-';
        ++c.i;
        int oh = 0, om = 0;
        if (!c.number(oh, 2, 2)) return std::nullopt;
        c.eat(':');
        if (!c.done() && !c.number(om, 2, 2)) return std::nullopt;
        offset = (minus ? -1 : 1) * (oh * 3600 + om * 60);
    }
    if (!c.done()) return std::nullopt;
    if (y < 1970 || y > 2199 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    const std::int64_t secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                              h * 3600 + mi * 60 + sec - offset;
    return clamped_time(secs, micros);
}

time_point clamped_time(std::int64_t seconds, std::int64_t micros) {
    constexpr std::int64_t latest = 7258118399;  // 2199-12-31T23:59:59Z
    if (seconds < 0) return time_point{};
    if (seconds > latest) return time_point(std::chrono::seconds(latest));
    return time_point(std::chrono::seconds(seconds) + std::chrono::microseconds(micros));
}

std::string iso8601(time_point t) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    std::int64_t secs = micros / 1000000;
    std::int64_t ms = (micros % 1000000) / 1000;
    if (micros < 0 && micros % 1000000 != 0) {
        --secs;
        ms = (micros % 1000000 + 1000000) / 1000;
    }
    std::int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    // civil_from_days (H. Hinnant).
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem % 3600 / 60),
                  static_cast<long long>(rem % 60), static_cast<long long>(ms));
    return buf;
}

}  // namespace scep::evidence
