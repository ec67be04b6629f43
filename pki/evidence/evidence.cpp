// What every reader shares: the kind of a file from its content, and the
// reading of a file by the reader its kind needs.
#include <fstream>

#include "pki/evidence/evidence.hpp"

namespace scep::evidence {

std::string_view to_string(file_kind k) {
    switch (k) {
        case file_kind::pcap: return "pcap capture";
        case file_kind::pcapng: return "pcapng capture";
        case file_kind::har: return "HAR";
        case file_kind::iis_log: return "IIS W3C log";
        case file_kind::ndes_events: return "event log export";
        case file_kind::evtx: return "EVTX event log";
        case file_kind::unknown: break;
    }
    return "unknown";
}

file_kind detect(std::string_view head) {
    if (head.size() >= 4) {
        const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(head[i]); };
        const std::uint32_t le = static_cast<std::uint32_t>(b(0)) | static_cast<std::uint32_t>(b(1)) << 8 |
                                 static_cast<std::uint32_t>(b(2)) << 16 | static_cast<std::uint32_t>(b(3)) << 24;
        if (le == 0xa1b2c3d4 || le == 0xd4c3b2a1 || le == 0xa1b23c4d || le == 0x4d3cb2a1) return file_kind::pcap;
        if (le == 0x0A0D0D0A) return file_kind::pcapng;
    }
    if (head.starts_with(std::string_view("ElfFile\0", 8))) return file_kind::evtx;
    std::string_view text = head;
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\r' || text.front() == '\n' || text.front() == '\t'))
        text.remove_prefix(1);
    if (text.starts_with("{") && text.find("\"log\"") != std::string_view::npos) return file_kind::har;
    if (text.starts_with("#Software:") || text.starts_with("#Version:") || text.starts_with("#Fields:") ||
        text.starts_with("#Date:"))
        return file_kind::iis_log;
    const auto first_line = text.substr(0, text.find('\n'));
    if (first_line.find("Event ID") != std::string_view::npos && first_line.find("Date and Time") != std::string_view::npos)
        return file_kind::ndes_events;
    return file_kind::unknown;
}

result<file_kind> read_stream(std::istream& in, const std::string& name, sink& out, const limits& lim) {
    char head[4096];
    in.read(head, sizeof head);
    const auto got = static_cast<std::size_t>(in.gcount());
    in.clear();
    in.seekg(0);
    if (!in) return make_error(name + ": cannot be read from the start again");
    const file_kind k = detect(std::string_view(head, got));
    result<void> r;
    switch (k) {
        case file_kind::pcap:
        case file_kind::pcapng: r = read_capture(in, name, out, lim); break;
        case file_kind::har: r = read_har(in, name, out, lim); break;
        case file_kind::iis_log: r = read_iis_log(in, name, out, lim); break;
        case file_kind::ndes_events: r = read_ndes_events(in, name, out, lim); break;
        case file_kind::evtx:
            return make_error(name + ": an EVTX event log is read from a file, not a stream");
        case file_kind::unknown:
            return make_error(name + ": not a capture (pcap, pcapng), HAR, IIS W3C log or event log export");
    }
    if (!r) return r.err();
    return k;
}

result<file_kind> read_file(const std::filesystem::path& file, sink& out, const limits& lim) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) return make_error(file.string() + ": a directory, not a file");
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(file.string() + ": cannot be opened");
    char head[8] = {};
    in.read(head, sizeof head);
    if (detect(std::string_view(head, static_cast<std::size_t>(in.gcount()))) == file_kind::evtx) {
        auto r = read_evtx(file, file.string(), out, lim);
        if (!r) return r.err();
        return file_kind::evtx;
    }
    in.clear();
    in.seekg(0);
    return read_stream(in, file.string(), out, lim);
}

}  // namespace scep::evidence
