#include "peers/challenge_server.hpp"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <openssl/crypto.h>

#include "pki/crypto/encoding.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/challenge/challenge_webhook.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/scep/ndes_errors.hpp"
#include "pki/store/store.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep {

namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

result<forced_outcome> parse_outcome(const std::string& text) {
    using kind = forced_outcome::kind;
    auto colon = text.find(':');
    std::string name = text.substr(0, colon);
    std::string arg = colon == std::string::npos ? std::string() : text.substr(colon + 1);
    forced_outcome o;
    if (name == "allow" && arg.empty()) {
        o.what = kind::allow;
    } else if (name == "deny" || name == "unverified") {
        o.what = name == "deny" ? kind::deny : kind::unverified;
        o.reason = arg;
    } else if (name == "timeout") {
        o.what = kind::timeout;
        if (!arg.empty()) {
            int seconds = 0;
            auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), seconds);
            if (ec != std::errc() || p != arg.data() + arg.size() || seconds < 1 || seconds > 3600)
                return make_error("timeout:SECONDS takes 1 to 3600 seconds: " + text);
            o.delay = std::chrono::seconds(seconds);
        }
    } else if (name == "malformed" && arg.empty()) {
        o.what = kind::malformed;
    } else if (name == "status") {
        o.what = kind::status;
        auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), o.status);
        if (ec != std::errc() || p != arg.data() + arg.size() || o.status < 100 || o.status > 599)
            return make_error("status:CODE takes an HTTP status 100-599: " + text);
    } else if (name == "hresult") {
        o.what = kind::hresult;
        auto hr = parse_hresult(arg);
        if (!hr) return make_error("hresult: takes a failure HRESULT such as 0x80070490: " + text);
        o.hresult = *hr;
    } else {
        return make_error("unknown outcome \"" + text +
                          "\" (allow, deny[:reason], unverified[:reason], timeout[:seconds], malformed, status:CODE, "
                          "hresult:0x8XXXXXXX)");
    }
    return o;
}

namespace {

std::string header(const std::map<std::string, std::string>& h, const std::string& name) {
    for (const auto& [k, v] : h)
        if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            }))
            return v;
    return {};
}

bool same(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// "ok", "none" (no secret configured) or why the signature is refused.
std::string check_signature(const challenge_server_options& o, const std::map<std::string, std::string>& headers,
                            const std::string& body) {
    if (o.secret.empty()) return "none";
    std::string lab = header(headers, "X-Scep-Lab-Signature");
    std::string step = header(headers, "X-Smallstep-Signature");
    if (!lab.empty()) return same(lab, "sha256=" + webhook_hmac_hex(o.secret, body)) ? "ok" : "bad X-Scep-Lab-Signature";
    if (!step.empty()) {
        auto key = base64_decode(o.secret);
        if (!key) return "the server's secret is not base64, as step-ca's is";
        std::string k(key->begin(), key->end());
        return same(step, webhook_hmac_hex(k, body)) ? "ok" : "bad X-Smallstep-Signature";
    }
    return "no signature header";
}

std::string str(const json::object& o, const char* key) {
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The challenges GenerateChallenge handed out (one server per process).
std::mutex& generated_mu() {
    static std::mutex mu;
    return mu;
}
std::set<std::string>& generated() {
    static std::set<std::string> set;
    return set;
}
bool was_generated(const std::string& challenge) {
    std::lock_guard lock(generated_mu());
    return generated().count(challenge) != 0;
}

// Signed calls seen, by signature, kept until their timestamp leaves the
// window (one server per process, as generated()).
class replay_cache {
public:
    // false when `signature` was seen (a replay) or the cache is full.
    bool first_time(const std::string& signature, std::int64_t now, std::int64_t keep_until) {
        std::lock_guard lock(mu_);
        if (seen_.size() >= max_entries) std::erase_if(seen_, [&](const auto& e) { return e.second < now; });
        if (seen_.size() >= max_entries) return false;
        return seen_.emplace(signature, keep_until).second;
    }

private:
    static constexpr std::size_t max_entries = 100000;
    std::mutex mu_;
    std::map<std::string, std::int64_t> seen_;
};
replay_cache& replays() {
    static replay_cache cache;
    return cache;
}

// Unix seconds of an RFC 3339 UTC time ("2026-12-04T19:00:00Z", fractions
// allowed, as step-ca sends); nullopt when it is not one.
std::optional<std::int64_t> rfc3339_seconds(const std::string& text) {
    std::tm tm{};
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != 19)
        return std::nullopt;
    std::size_t at = 19;
    if (at < text.size() && text[at] == '.')
        for (++at; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]));) ++at;
    if (at + 1 != text.size() || (text[at] != 'Z' && text[at] != 'z')) return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<std::int64_t>(timegm(&tm));
}

// Why a signed call is refused as stale or replayed, or nullopt.
std::optional<std::string> replayed(const challenge_server_options& o, const json::object& req,
                                    const std::map<std::string, std::string>& headers) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    auto sent = rfc3339_seconds(str(req, "timestamp"));
    if (!sent) return std::string("a signed call needs a \"timestamp\" (RFC 3339, UTC)");
    const std::int64_t skew = o.max_skew.count();
    if (*sent < now - skew || *sent > now + skew)
        return "the call's timestamp is " + std::to_string(*sent - now) + " s from this server's clock (at most " +
               std::to_string(skew) + " s): a replay, or clocks apart";
    std::string signature = header(headers, "X-Scep-Lab-Signature");
    if (signature.empty()) signature = header(headers, "X-Smallstep-Signature");
    if (!replays().first_time(signature, now, *sent + skew))
        return std::string("this signed call was already answered (a replay)");
    return std::nullopt;
}

// What Notify's issued_cert is: serial and subject, for the log.
void describe_cert(const std::string& b64, json::object& log) {
    auto der = base64_decode(b64);
    if (!der) return;
    auto cert = x509_from_der(*der);
    if (!cert) return;
    log["issued_serial"] = serial_hex(**cert);
    log["issued_subject"] = name_to_string(*X509_get_subject_name(cert->get()));
}

}  // namespace

challenge_server_reply answer_webhook_call(const challenge_server_options& o,
                                           const std::map<std::string, std::string>& headers, const std::string& body) {
    using kind = forced_outcome::kind;
    challenge_server_reply out;
    json::object log;
    log["time"] = now_iso8601();
    auto finish = [&](int status, json::value answer) {
        out.status = status;
        out.body = scep::json_text(answer);
        log["status"] = status;
        log["answer"] = std::move(answer);
        out.log_line = scep::json_text(log);
        return out;
    };
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) {
        log["call"] = "unreadable";
        return finish(400, json::object{{"error", "the body is not a JSON object"}});
    }
    const json::object& req = parsed.as_object();
    const bool policy = req.contains("scep_lab_policy");
    const bool step_ca = req.contains("scepChallenge") || req.contains("scepTransactionID");
    std::string call = policy ? str(req, "method") : step_ca ? "SCEPCHALLENGE" : "challenge";
    log["call"] = call;
    std::string signature = check_signature(o, headers, body);
    log["signature"] = signature;
    if (signature != "ok" && signature != "none") return finish(401, json::object{{"error", signature}});
    if (signature == "ok")
        if (auto why = replayed(o, req, headers)) {
            log["signature"] = "replay";
            return finish(401, json::object{{"error", *why}});
        }

    std::string challenge = step_ca ? str(req, "scepChallenge") : str(req, "challenge");
    std::string txid = step_ca ? str(req, "scepTransactionID") : str(req, "transaction_id");
    if (!txid.empty()) log["transaction_id"] = txid;
    if (!challenge.empty()) log["challenge"] = challenge;

    if (call == "Initialize" || call == "Uninitialize") return finish(200, json::object{});
    if (call == "GenerateChallenge") {
        // A fresh challenge, allowed from now on (as a module that hands out
        // passwords remembers them); logged, since this is a test server.
        std::string fresh = to_hex(random_bytes(8), true);
        {
            std::lock_guard lock(generated_mu());
            generated().insert(fresh);
        }
        log["challenge"] = fresh;
        if (auto t = str(req, "template"); !t.empty()) log["ndes_template"] = t;
        return finish(200, json::object{{"challenge", fresh}});
    }
    if (call == "Notify") {
        for (const char* k : {"disposition_name", "last_hresult", "text"})
            if (auto v = str(req, k); !v.empty()) log[k] = v;
        if (auto* d = req.if_contains("disposition"); d && d->is_int64()) log["disposition"] = d->as_int64();
        describe_cert(str(req, "issued_cert"), log);
        return finish(200, json::object{});
    }
    if (policy && call != "GetTemplate" && call != "VerifyRequest")
        return finish(400, json::object{{"error", "unknown method \"" + clean_remote_text(call, 40) + "\""}});
    if (!policy) {
        std::string subject = step_ca ? std::string() : str(req, "subject");
        if (!subject.empty()) log["subject"] = subject;
    } else if (auto t = str(req, "template"); !t.empty()) {
        log["ndes_template"] = t;
    }

    // The outcome: a rule for this challenge, else the allow-list.
    forced_outcome outcome;
    if (auto r = o.rules.find(challenge); r != o.rules.end())
        outcome = r->second;
    else if (challenge.empty() ||
             (std::find(o.allow.begin(), o.allow.end(), challenge) == o.allow.end() && !was_generated(challenge)))
        outcome = forced_outcome{kind::deny, o.deny_reason, {}, 0, 0};
    if (outcome.what == kind::timeout) {
        out.delay = outcome.delay;
        return finish(200, json::object{{"allow", false}, {"reason", "answered too late"}});
    }
    if (outcome.what == kind::malformed) {
        finish(200, "malformed");
        out.body = "{\"allow\": maybe";  // not JSON: the caller must say so
        return out;
    }
    if (outcome.what == kind::status) return finish(outcome.status, json::object{{"error", "forced status"}});

    if (call == "GetTemplate") {  // a forced HRESULT is VerifyRequest's: GetTemplate still answers
        if (o.template_name.empty()) return finish(200, json::object{{"template", nullptr}});
        return finish(200, json::object{{"template", o.template_name}});
    }
    if (call == "VerifyRequest") {
        if (outcome.what == kind::hresult)
            return finish(200, json::object{{"hresult", hresult_hex(outcome.hresult)}, {"reason", "forced HRESULT"}});
        if (outcome.what == kind::allow) return finish(200, json::object{{"verified", true}});
        return finish(200, json::object{{"verified", false}, {"reason", outcome.reason}});
    }
    // The challenge webhook, either format.
    if (outcome.what == kind::allow) return finish(200, json::object{{"allow", true}});
    json::object deny{{"allow", false}};
    if (!outcome.reason.empty()) deny["reason"] = outcome.reason;
    return finish(200, std::move(deny));
}

result<void> run_challenge_server(const challenge_server_options& o, const std::function<void(std::uint16_t)>& ready) {
    std::ofstream log_file;
    if (!o.log_file.empty()) {
        log_file.open(o.log_file, std::ios::app);
        if (!log_file) return make_error("cannot open the call log " + o.log_file);
    }
    std::mutex log_mu;
    try {
        asio::io_context ioc;
        asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address(o.listen), o.port});
        ready(acceptor.local_endpoint().port());
        auto active = std::make_shared<std::atomic<std::size_t>>(0);
        for (;;) {
            asio::ip::tcp::socket socket(ioc);
            acceptor.accept(socket);
            if (active->load() >= o.max_connections) continue;  // closed: too many calls at once
            ++*active;
            // One thread per call: a forced timeout must not hold up the next.
            std::thread([&o, &log_file, &log_mu, active, sock = std::move(socket)]() mutable {
                struct done {
                    std::atomic<std::size_t>& n;
                    ~done() { --n; }
                } leave{*active};
                try {
                    // The request is read under a deadline (its own io_context):
                    // a caller that sends nothing holds no thread for long.
                    asio::io_context io;
                    const auto protocol = sock.local_endpoint().protocol();
                    beast::tcp_stream stream(asio::ip::tcp::socket(io, protocol, sock.release()));
                    beast::flat_buffer buffer;
                    http::request_parser<http::string_body> parser;
                    parser.body_limit(1 << 20);
                    beast::error_code read_ec = asio::error::operation_aborted;
                    stream.expires_after(o.read_timeout);
                    http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) { read_ec = ec; });
                    io.run();
                    if (read_ec) return;
                    stream.expires_never();
                    auto& sock = stream.socket();
                    auto req = parser.release();
                    std::map<std::string, std::string> headers;
                    for (const auto& f : req) headers[std::string(f.name_string())] = std::string(f.value());
                    challenge_server_reply a;
                    if (req.method() != http::verb::post) {
                        a.status = 405;
                        a.body = R"({"error":"POST only"})";
                    } else {
                        a = answer_webhook_call(o, headers, req.body());
                    }
                    if (!a.log_line.empty()) {
                        std::lock_guard lock(log_mu);
                        if (log_file.is_open()) log_file << a.log_line << '\n' << std::flush;
                    }
                    if (a.delay.count() > 0) std::this_thread::sleep_for(a.delay);
                    http::response<http::string_body> res{static_cast<http::status>(a.status), 11};
                    res.set(http::field::content_type, "application/json");
                    res.body() = a.body;
                    res.keep_alive(false);
                    res.prepare_payload();
                    http::write(sock, res);
                    beast::error_code ec;
                    sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
                } catch (const std::exception&) {
                    // A client that went away (the caller's timeout): nothing to answer.
                }
            }).detach();
        }
    } catch (const boost::system::system_error& e) {
        return make_error("challenge-server on " + o.listen + ":" + std::to_string(o.port) + ": " + e.code().message());
    }
}

}  // namespace scep
