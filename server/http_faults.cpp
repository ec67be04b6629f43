#include "server/http_faults.hpp"

#include <cctype>

#include "pki/crypto/encoding.hpp"
#include "pki/scep/message.hpp"
#include "pki/scep/service.hpp"

namespace scep::server {

namespace {

// GetCACaps answers one capability per line (RFC 8894 §3.5.2): each line
// without its end, whether the answer ends lines with CRLF.
template <class Each>
void rewrite_caps_lines(std::string& body, Each&& each) {
    const bool crlf = body.find("\r\n") != std::string::npos;
    std::string out;
    std::size_t at = 0;
    while (at < body.size()) {
        auto end = body.find('\n', at);
        std::string line = body.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        each(line, out, crlf);
        at = end == std::string::npos ? body.size() : end + 1;
    }
    body = std::move(out);
}

}  // namespace

std::optional<fault_rule> inject_http_fault(fault_plan& plan, const scep_service& service, const http_fault_request& r,
                                            response& res, request_record& rec) {
    if (!plan.armed() || r.target.starts_with(redirect_prefix)) return std::nullopt;
    std::string canonical(r.operation);
    for (std::string_view op : scep_operations)
        if (ascii_iequals(r.operation, op)) canonical = op;
    auto rule = plan.take(fault_layer::http, {canonical, r.message_type, r.transaction_id, r.client, r.subject});
    if (!rule) return std::nullopt;
    std::string& body = res.body();
    switch (rule->kind) {
        case fault_kind::http_status:
            res.result(static_cast<http::status>(rule->status));
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            if (rule->retry_after > 0) res.set(http::field::retry_after, std::to_string(rule->retry_after));
            body = "fault injected by scep-lab: HTTP " + std::to_string(rule->status) + " (" + rule->id + ")\n";
            break;
        case fault_kind::wrong_content_type: res.set(http::field::content_type, "text/html; charset=utf-8"); break;
        case fault_kind::empty_body: body.clear(); break;
        case fault_kind::truncated_body: body.resize(body.size() / 2); break;
        case fault_kind::base64_body:
            body = base64_encode(byte_view(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
            break;
        case fault_kind::trailing_garbage: body.append(16, '\xa5'); break;
        case fault_kind::delay_headers: rec.delay = std::chrono::milliseconds(rule->delay_ms); break;
        case fault_kind::delay_body:
            rec.transport = request_record::wire::pause_mid_body;
            rec.pause = std::chrono::milliseconds(rule->delay_ms);
            break;
        case fault_kind::connection_close: rec.transport = request_record::wire::close; break;
        case fault_kind::connection_reset: rec.transport = request_record::wire::reset; break;
        case fault_kind::redirect: {
            const std::string to = std::string(redirect_prefix) + std::string(r.target);
            res.result(static_cast<http::status>(rule->status));
            res.set(http::field::location, to);
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            body = "fault injected by scep-lab: moved to " + to + "\n";
            break;
        }
        case fault_kind::getcacert_other_ra:
        case fault_kind::getcacert_issuing_only: {
            auto faulty = service.faulty_ca_cert(rule->kind);
            res.set(http::field::content_type, faulty.content_type);
            body = std::move(faulty.body);
            if (faulty.http_status != 200) res.result(static_cast<http::status>(faulty.http_status));
            break;
        }
        case fault_kind::caps_empty: body.clear(); break;
        case fault_kind::caps_lowercase:
            for (char& c : body) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            break;
        case fault_kind::caps_crlf:
            rewrite_caps_lines(body, [](const std::string& line, std::string& out, bool crlf) {
                out += line + (crlf ? "\n" : "\r\n");
            });
            break;
        case fault_kind::caps_unknown_words: {
            bool first = true;
            rewrite_caps_lines(body, [&first](const std::string& line, std::string& out, bool crlf) {
                const char* eol = crlf ? "\r\n" : "\n";
                if (first) out += std::string("X-Unknown-Capability") + eol;
                first = false;
                out += line + eol;
            });
            body += std::string("SCEPStandardV2") + (body.find("\r\n") != std::string::npos ? "\r\n" : "\n");
            break;
        }
        default: return std::nullopt;
    }
    res.prepare_payload();
    return rule;
}

}  // namespace scep::server
