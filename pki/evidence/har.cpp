// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/, the format
// browsers' developer tools save): log.entries[] with request and response,
// bodies as text or base64. One JSON document, read whole (bounded by
// limits::max_document).
#include <boost/json.hpp>

#include <iterator>

#include "pki/crypto/encoding.hpp"
#include "pki/evidence/evidence.hpp"
#include "pki/evidence/text_time.hpp"

namespace scep::evidence {

namespace json = boost::json;

namespace {

std::string text_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object* object_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_object() ? &v->as_object() : nullptr;
}

void headers_of(const json::object& o, http_message& m) {
    const auto* list = o.if_contains("headers");
    if (!list || !list->is_array()) return;
    for (const auto& h : list->as_array()) {
        if (!h.is_object() || m.headers.size() >= 256) continue;
        m.headers.emplace_back(text_of(h.as_object(), "name"), text_of(h.as_object(), "value"));
    }
}

int version_of(const std::string& v) { return v == "HTTP/1.0" ? 10 : 11; }

// A body as HAR keeps it: text, or base64 when "encoding" says so.
std::string body_of(const json::object& o, const limits& lim, bool& lossy) {
    std::string text = text_of(o, "text");
    if (text_of(o, "encoding") == "base64") {
        if (auto raw = base64_decode(text)) text.assign(raw->begin(), raw->end());
        else lossy = true;
    }
    if (text.size() > lim.max_body) text.resize(lim.max_body);
    return text;
}

}  // namespace

result<void> read_har(std::istream& in, const std::string& name, sink& out, const limits& lim) {
    std::string doc;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        doc.append(buf, static_cast<std::size_t>(in.gcount()));
        if (doc.size() > lim.max_document)
            return make_error(name + ": larger than " + std::to_string(lim.max_document >> 20) +
                              " MiB: a HAR that size is not read");
    }
    json::error_code ec;
    json::parse_options opt;
    opt.max_depth = 64;
    auto v = json::parse(doc, ec, {}, opt);
    if (ec) return make_error(name + ": not JSON (" + ec.message() + ")");
    doc.clear();
    doc.shrink_to_fit();
    const json::object* root = v.if_object();
    const json::object* log = root ? object_of(*root, "log") : nullptr;
    const json::value* entries = log ? log->if_contains("entries") : nullptr;
    if (!entries || !entries->is_array()) return make_error(name + ": JSON without log.entries: not a HAR file");
    std::size_t index = 0;
    for (const auto& e : entries->as_array()) {
        ++index;
        const place at{name, "entry " + std::to_string(index)};
        const json::object* entry = e.if_object();
        const json::object* req = entry ? object_of(*entry, "request") : nullptr;
        if (!req) {
            out.note(at, "an entry without a request: skipped");
            continue;
        }
        http_exchange x;
        x.at = at;
        auto when = parse_text_time(text_of(*entry, "startedDateTime"));
        if (!when) {
            out.note(at, "an entry without a readable startedDateTime: skipped");
            continue;
        }
        // The URL: scheme://host[:port]/path?query.
        const std::string url = text_of(*req, "url");
        const auto scheme_end = url.find("://");
        if (scheme_end == std::string::npos) {
            out.note(at, "an entry whose URL has no scheme: skipped");
            continue;
        }
        const std::string scheme = url.substr(0, scheme_end);
        const auto path_at = url.find('/', scheme_end + 3);
        std::string authority = url.substr(scheme_end + 3, path_at == std::string::npos ? std::string::npos : path_at - scheme_end - 3);
        if (auto atsign = authority.rfind('@'); atsign != std::string::npos) authority.erase(0, atsign + 1);
        std::string host = authority;
        std::uint16_t port = ascii_iequals(scheme, "https") ? 443 : 80;
        if (auto colon = authority.rfind(':'); colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
            host = authority.substr(0, colon);
            unsigned p = 0;
            for (char c : authority.substr(colon + 1))
                p = c >= '0' && c <= '9' && p < 65536 ? p * 10 + static_cast<unsigned>(c - '0') : 65536;
            if (p > 0 && p < 65536) port = static_cast<std::uint16_t>(p);
        }
        x.request.target = path_at == std::string::npos ? "/" : url.substr(path_at);
        if (auto hash = x.request.target.find('#'); hash != std::string::npos) x.request.target.resize(hash);
        x.request.method = text_of(*req, "method");
        x.request.version = version_of(text_of(*req, "httpVersion"));
        x.request.time = *when;
        headers_of(*req, x.request);
        bool lossy = false;
        if (const auto* post = object_of(*req, "postData")) {
            x.request.body = body_of(*post, lim, lossy);
            x.request.body_size = x.request.body.size();
            if (!x.request.has_header("Content-Type") && post->contains("mimeType"))
                x.request.headers.emplace_back("Content-Type", text_of(*post, "mimeType"));
        }
        // A browser keeps a binary request body as text: bytes that were not
        // UTF-8 are lost (each became U+FFFD).
        if (x.request.body.find("\xEF\xBF\xBD") != std::string::npos) lossy = true;
        if (lossy) out.note(at, "the request body in this HAR is not the bytes sent (binary kept as text)");
        x.tls = ascii_iequals(scheme, "https");
        x.server = text_of(*entry, "serverIPAddress");
        if (x.server.empty()) x.server = host;
        if (!x.server.empty() && x.server.front() == '[' && x.server.back() == ']') x.server = x.server.substr(1, x.server.size() - 2);
        x.server_port = port;
        // A HAR is one browser's: its client is the file.
        x.client = "har:" + name.substr(name.find_last_of('/') == std::string::npos ? 0 : name.find_last_of('/') + 1);
        if (const auto* res = object_of(*entry, "response")) {
            http_message r;
            const auto* status = res->if_contains("status");
            r.status = status && status->is_int64() ? static_cast<int>(status->as_int64()) : 0;
            r.reason = text_of(*res, "statusText");
            r.version = version_of(text_of(*res, "httpVersion"));
            r.time = *when;
            headers_of(*res, r);
            bool body_lossy = false;
            if (const auto* content = object_of(*res, "content")) {
                r.body = body_of(*content, lim, body_lossy);
                r.body_size = r.body.size();
            }
            // 0: the browser got no answer (blocked, cancelled).
            if (r.status > 0) x.response = std::move(r);
        }
        out.exchange(std::move(x));
    }
    return {};
}

}  // namespace scep::evidence
