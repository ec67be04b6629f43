// Running the conformance cases: a private `scep-lab serve` as a child
// process, one fault rule per case through the admin API, the client in its
// own process group, and what it left behind.
#include "client/conformance.hpp"

#include "client/admin_client.hpp"
#include "client/conformance_lab.hpp"
#include "client/progress.hpp"

#include <boost/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "client/process.hpp"
#include "client/scep_client.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/scep/faults.hpp"
#include "pki/scep/message.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::client {

namespace fs = std::filesystem;

lab_server::~lab_server() {
    if (pid > 0) {
        ::kill(pid, SIGTERM);
        for (int i = 0; i < 100 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, WNOHANG);
    }
}

result<boost::json::value> lab_server::call(const std::string& method, const std::string& target,
                                            const std::string& body) {
    if (!admin) return make_error("the lab server is not running");
    return admin->call(method, target, body);
}

std::optional<std::vector<lab_row>> rows_after(lab_server& srv, std::int64_t after) {
    auto page = srv.call("GET", "/admin/api/transactions?limit=1000&after=" + std::to_string(after));
    if (!page) return std::nullopt;
    std::vector<lab_row> rows;
    try {
        const auto& items = page->at("items").as_array();
        // Newest first: turned oldest first.
        for (auto it = items.rbegin(); it != items.rend(); ++it) {
            const auto& o = it->as_object();
            lab_row r;
            r.id = o.at("id").to_number<std::int64_t>();
            r.client = boost::json::value_to<std::string>(o.at("client"));
            r.operation = boost::json::value_to<std::string>(o.at("operation"));
            r.transaction_id = boost::json::value_to<std::string>(o.at("transaction_id"));
            r.pki_status = boost::json::value_to<std::string>(o.at("pki_status"));
            r.http_status = o.at("http_status").to_number<int>();
            rows.push_back(std::move(r));
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return rows;
}

namespace {

std::string read_text(const fs::path& p, std::size_t limit = 1 << 20) {
    std::ifstream in(p, std::ios::binary);
    std::string s(limit, '\0');
    in.read(s.data(), static_cast<std::streamsize>(limit));
    s.resize(static_cast<std::size_t>(in.gcount()));
    return s;
}

// The client's last words: its last line that does not start with white
// space (indented lines continue a message, like a digest mismatch's values).
std::string last_line(const std::string& text) {
    std::string line;
    std::size_t end = text.size();
    while (end > 0) {
        auto start = text.rfind('\n', end - 1);
        const std::size_t from = start == std::string::npos ? 0 : start + 1;
        line = text.substr(from, end - from);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty() && line.front() != ' ' && line.front() != '\t') break;
        line.clear();
        if (start == std::string::npos) break;
        end = start;
    }
    // Structured log lines (ts=... level=...): the time and level are noise in a scorecard.
    for (std::string_view key : {"ts=", "level="})
        if (line.starts_with(key) && line.find(' ') != std::string::npos) line.erase(0, line.find(' ') + 1);
    if (line.size() > 200) line = line.substr(0, 200) + "...";
    return line;
}

// ---- What the client left ---------------------------------------------------

// The certificates in a file: PEM (any number), else one DER certificate,
// else a PKCS#7 (a saved GetCACert answer).
std::vector<x509_ptr> certificates_in(const std::string& data) {
    const byte_view der(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    std::vector<x509_ptr> found;
    if (auto pem = x509_list_from_pem(data)) found = std::move(*pem);
    else if (auto one = x509_from_der(der)) found.push_back(std::move(*one));
    else if (auto certs = parse_degenerate(der)) found = std::move(*certs);
    ERR_clear_error();
    return found;
}

// An end-entity certificate in one of `dir`'s files (top level) that is not
// self-signed (a client's temporary signer) and not one the server sent in
// the clear in this case (GetCACert and GetNextCACert answers, faulted ones
// included: a client may save them). `own` are the runner's files (the
// client's output, the profile's script): never the client's doing.
bool certificate_written(const fs::path& dir, const std::vector<x509_ptr>& sent, const std::vector<std::string>& own) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file(ec) || entry.file_size(ec) > (1 << 20)) continue;
        if (std::find(own.begin(), own.end(), entry.path().filename().string()) != own.end()) continue;
        for (const auto& c : certificates_in(read_text(entry.path()))) {
            if (X509_NAME_cmp(X509_get_subject_name(c.get()), X509_get_issuer_name(c.get())) == 0 &&
                X509_verify(c.get(), X509_get0_pubkey(c.get())) == 1)
                continue;  // self-signed
            ERR_clear_error();
            if (X509_check_ca(c.get()) != 0) continue;
            bool from_server = false;
            for (const auto& k : sent) from_server = from_server || X509_cmp(k.get(), c.get()) == 0;
            if (!from_server) return true;
        }
    }
    return false;
}

std::string now_utc() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

std::string command_output(const std::string& command) {
    std::string out;
    if (FILE* f = ::popen((command + " 2>/dev/null").c_str(), "r")) {
        char buf[256];
        while (std::fgets(buf, sizeof buf, f)) out += buf;
        ::pclose(f);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}


result<void> start_server(lab_server& srv, const std::string& self_exe, const conformance_options& o,
                          const fs::path& dir, const std::string& challenge) {
    fs::create_directories(dir / "data");
    const fs::path ready = dir / "ready.json";
    std::vector<std::string> argv{self_exe};
    if (!o.server_config.empty()) argv.insert(argv.end(), {"--config", o.server_config});
    if (!o.server_preset.empty()) argv.insert(argv.end(), {"--preset", o.server_preset});
    argv.insert(argv.end(), {"--data-dir", (dir / "data").string(), "serve", "--listen", "127.0.0.1", "--port", "0",
                             "--no-https", "--ready-file", ready.string(), "--challenge", challenge});
    srv.token = to_hex(random_bytes(16));
    auto pid = start_process(argv, dir, dir / "server.log", {{"SCEP_LAB_ADMIN_TOKEN", srv.token}});
    if (!pid) return pid.err();
    srv.pid = *pid;
    // The first start generates the lab PKI (RSA keys): allow a minute.
    for (int i = 0; i < 1200; ++i) {
        int status = 0;
        if (::waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
            srv.pid = -1;
            return make_error("the lab server exited at start: " + last_line(read_text(dir / "server.log")));
        }
        std::error_code ec;
        if (fs::exists(ready, ec) && fs::file_size(ready, ec) > 0) {
            auto text = read_text(ready);
            boost::json::error_code jec;
            auto v = boost::json::parse(text, jec);
            if (!jec && v.is_object() && v.as_object().contains("url")) {
                const auto& obj = v.as_object();
                srv.url = boost::json::value_to<std::string>(obj.at("url"));
                srv.base_url = boost::json::value_to<std::string>(obj.at("base_url"));
                srv.ca_file = boost::json::value_to<std::string>(obj.at("ca_chain"));
                auto parsed = parse_scep_url(srv.base_url);
                if (!parsed) return parsed.err();
                srv.admin.emplace(*parsed, srv.token);
                auto faults = srv.call("GET", "/admin/api/faults");
                if (!faults)
                    return make_error("conformance needs the admin API with fault injection ([admin] enabled): " +
                                      faults.message());
                return {};
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return make_error("the lab server did not start within 60 s (" + (dir / "server.log").string() + ")");
}

// A lab that already runs (`--server`): its admin API must take the token and
// arm faults; the CA chain for {ca} comes from its GetCACert.
result<void> use_server(lab_server& srv, const conformance_options& o, const fs::path& dir,
                        std::vector<x509_ptr>& ca_certs) {
    auto parsed = parse_scep_url(o.server_url);
    if (!parsed) return make_error("--server " + o.server_url + ": " + parsed.message());
    // A base URL ("http://host:port") gets the lab's SCEP path; a SCEP URL is kept.
    const std::string scheme = parsed->tls ? "https" : "http";
    const std::string authority = parsed->host.find(':') != std::string::npos ? "[" + parsed->host + "]" : parsed->host;
    srv.base_url = scheme + "://" + authority + ":" + std::to_string(parsed->port);
    srv.url = parsed->path.empty() || parsed->path == "/" ? srv.base_url + "/scep" : srv.base_url + parsed->path;
    if (o.admin_token.empty())
        return make_error("--server needs the lab's admin token (--admin-token, or SCEP_LAB_ADMIN_TOKEN): faults are "
                          "armed through its admin API");
    srv.token = o.admin_token;
    auto base = parse_scep_url(srv.base_url);
    if (!base) return base.err();
    srv.admin.emplace(*base, srv.token);
    auto faults = srv.call("GET", "/admin/api/faults");
    if (!faults) return make_error("the admin API of " + srv.base_url + " does not answer: " + faults.message());
    const auto* list = faults->is_object() ? faults->as_object().if_contains("faults") : nullptr;
    if (!list || !list->is_array())
        return make_error(srv.base_url + " answered GET /admin/api/faults without a fault list: is it a scep-lab?");
    if (!list->as_array().empty())
        return make_error(srv.base_url + " has fault rules armed already (scep-lab fault list): they would change "
                          "every verdict; clear them first (scep-lab fault clear)");
    auto scep = parse_scep_url(srv.url);
    if (!scep) return scep.err();
    scep_client sc(*scep);
    auto certs = sc.get_ca_cert();
    if (!certs) return make_error("GetCACert from " + srv.url + ": " + certs.message());
    std::string pem;
    for (const auto& c : *certs) pem += x509_to_pem(*c);
    fs::create_directories(dir);
    srv.ca_file = (dir / "ca-chain.pem").string();
    std::ofstream(srv.ca_file, std::ios::binary) << pem;
    ca_certs = std::move(*certs);
    return {};
}

// The newest transaction id in the lab's log (0 when empty); nullopt when
// the lab keeps no log (inspector.enabled off) or it cannot be read.
std::optional<std::int64_t> newest_transaction(lab_server& srv) {
    auto page = srv.call("GET", "/admin/api/transactions?limit=1");
    if (!page) return std::nullopt;
    try {
        const auto& items = page->at("items").as_array();
        return items.empty() ? 0 : items.front().at("id").to_number<std::int64_t>();
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// What the lab's log says about one case: the certificates it sent in the
// clear, the PKIOperations, and the polls after a PENDING.
struct case_log {
    std::vector<x509_ptr> sent;
    std::uint64_t pki_operations = 0, polls = 0;
};

std::optional<case_log> read_case_log(lab_server& srv, std::int64_t after) {
    auto rows = rows_after(srv, after);
    if (!rows) return std::nullopt;
    case_log out;
    bool pending_seen = false;
    for (const auto& row : *rows) {
        if (row.operation == "PKIOperation") {
            ++out.pki_operations;
            if (pending_seen) ++out.polls;
            if (row.pki_status == "PENDING") pending_seen = true;
        } else if ((row.operation == "GetCACert" || row.operation == "GetNextCACert") && row.http_status == 200) {
            if (auto der = srv.admin->fetch("/admin/api/transactions/" + std::to_string(row.id) + "/reply.der"))
                for (auto& c : certificates_in(*der)) out.sent.push_back(std::move(c));
        }
    }
    return out;
}

// The operation a case's rule targets (its when.operation).
std::string rule_operation(const std::string& rule_json) {
    boost::json::error_code ec;
    auto v = boost::json::parse(rule_json, ec);
    if (ec || !v.is_object()) return "PKIOperation";
    const auto* when = v.as_object().if_contains("when");
    const auto* op = when && when->is_object() ? when->as_object().if_contains("operation") : nullptr;
    return op && op->is_string() ? std::string(op->as_string()) : "PKIOperation";
}

// A command that runs the script named next: its --version is not the client's.
bool is_interpreter(const std::string& program) {
    const std::string name = fs::path(program).filename().string();
    for (std::string_view i : {"sh", "bash", "dash", "zsh", "ksh", "env", "perl", "ruby", "node", "java", "busybox"})
        if (name == i) return true;
    return name.starts_with("python");
}

// The first line of `program --version`, for a template's report; only for
// a program that is not a script (a wrapper script may not know --version,
// and may do anything with it). "" when it says nothing within 5 s.
std::string version_of(const std::string& program, const fs::path& dir) {
    std::string path = program;
    if (program.find('/') == std::string::npos) path = command_output("command -v '" + program + "'");
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    if (!in.read(magic, 4) || std::string_view(magic, 4) != "\x7f" "ELF") return "";
    const fs::path log = dir / "client-version.txt";
    auto pid = start_process({path, "--version"}, dir, log);
    if (!pid) return "";
    auto e = wait_for(*pid, std::chrono::seconds(5));
    std::string text = read_text(log, 4096);
    std::error_code ec;
    fs::remove(log, ec);
    if (e.timed_out || e.exit_code != 0) return "";  // no --version: its complaint is no version
    std::string first = text.substr(0, text.find('\n'));
    while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) first.pop_back();
    for (char& c : first)
        if (static_cast<unsigned char>(c) < 0x20) c = '?';
    return first.size() > 120 ? first.substr(0, 120) : first;
}

std::string cn_for(const std::string& name) {
    std::string cn = "conformance-" + name;
    return cn.size() > 64 ? cn.substr(0, 64) : cn;
}

}  // namespace

int conformance(const std::string& self_exe, const conformance_options& o, std::ostream& out) {
    // The command: a profile, or the template.
    std::vector<std::string> command = o.command;
    std::string script, script_name, client_name = "client", version, verdict_prefix, noise_prefix;
    if (!o.client.empty()) {
        const client_profile* profile = nullptr;
        for (const auto& p : client_profiles())
            if (p.name == o.client) profile = &p;
        if (!profile) {
            std::cerr << "scep-lab conformance: no client profile \"" << o.client << "\" (scepclient, certmonger)\n";
            return 2;
        }
        if (!command.empty()) {
            std::cerr << "scep-lab conformance: give --client or a command after --, not both\n";
            return 2;
        }
        command = profile->command;
        script = profile->script;
        script_name = profile->name + "-client.sh";
        client_name = profile->name;
        version = command_output(profile->version_command);
        verdict_prefix = profile->verdict_prefix;
        noise_prefix = profile->noise_prefix;
    }
    // Observe mode: the device is the client; a trigger or a person starts it.
    const bool observing = !o.trigger.empty() || o.manual;
    if (observing && !command.empty()) {
        std::cerr << "scep-lab conformance: --trigger and --manual watch a device: give no --client and no command "
                     "after --\n";
        return 2;
    }
    if (!observing && !o.check.empty()) {
        std::cerr << "scep-lab conformance: --check goes with --trigger or --manual\n";
        return 2;
    }
    if (o.settle_seconds < 1) {
        std::cerr << "scep-lab conformance: --settle must be at least 1 second\n";
        return 2;
    }
    if (!observing && (!o.device_address.empty() || !o.device_cn.empty())) {
        std::cerr << "scep-lab conformance: --device-address and --device-cn go with --trigger or --manual\n";
        return 2;
    }
    if (command.empty() && !observing) {
        std::cerr << "scep-lab conformance: give --client scepclient|certmonger, or the client's command after -- "
                     "(placeholders {url} {challenge} {dir} {cn} {ca}), or --trigger CMD / --manual for a device\n";
        return 2;
    }
    // A template's name: its program's, or the script's when the program is
    // an interpreter (`bash wrapper.sh`, `python3 client.py`).
    const bool interpreted = o.client.empty() && command.size() > 1 && is_interpreter(command.front()) &&
                             !command[1].starts_with("-");
    if (observing) client_name = "device";
    else if (o.client.empty()) client_name = fs::path(command[interpreted ? 1 : 0]).filename().string();
    if (!o.client_name.empty()) client_name = o.client_name;
    // certmonger -c takes its command as one line split at spaces: the
    // script's path must not hold any (nor quotes).
    if (!script.empty() && !o.work_dir.empty() &&
        fs::absolute(o.work_dir).string().find_first_of(" \t\n'\"\\$`") != std::string::npos) {
        std::cerr << "scep-lab conformance: --client " << o.client
                  << " needs a --work-dir without spaces, quotes, $ or backslashes\n";
        return 2;
    }
    if (o.timeout_seconds < 1) {
        std::cerr << "scep-lab conformance: --timeout must be at least 1 second\n";
        return 2;
    }

    auto cases = conformance_cases();
    for (const auto& name : o.only) {
        bool known = false;
        for (const auto& c : cases) known = known || c.name == name;
        if (!known) {
            std::cerr << "scep-lab conformance: no case \"" << name << "\" (--list shows them)\n";
            return 2;
        }
    }
    if (!o.only.empty())
        std::erase_if(cases, [&](const conformance_case& c) {
            return c.rule_json.empty() ? false : std::find(o.only.begin(), o.only.end(), c.name) == o.only.end();
        });

    // Work directory: given (kept), or temporary (removed).
    fs::path work;
    std::error_code ec;
    if (!o.work_dir.empty()) {
        work = fs::absolute(o.work_dir);
        fs::create_directories(work, ec);
        if (ec) {
            std::cerr << "scep-lab conformance: cannot create " << work << ": " << ec.message() << "\n";
            return 2;
        }
    } else {
        std::string tmpl = (fs::temp_directory_path() / "scep-lab-conformance-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) {
            std::cerr << "scep-lab conformance: cannot create a temporary directory\n";
            return 2;
        }
        work = tmpl;
    }
    struct cleanup {
        fs::path dir;
        bool keep;
        ~cleanup() {
            std::error_code e;
            if (!keep) fs::remove_all(dir, e);
        }
    } clean{work, !o.work_dir.empty()};

    // A template's version: given, else the first line of its --version (a
    // program, not a script), else its name.
    if (!o.client_version.empty()) version = o.client_version;
    else if (version.empty() && o.client.empty() && !observing && !is_interpreter(command.front()))
        version = version_of(command.front(), work);
    if (version.empty()) version = client_name;

    lab_server srv;
    std::vector<x509_ptr> ca_certs;
    std::string challenge;
    if (!o.server_url.empty()) {
        challenge = o.challenge;
        if (auto r = use_server(srv, o, work / "server", ca_certs); !r) {
            std::cerr << "scep-lab conformance: " << r.message() << "\n";
            return 2;
        }
    } else {
        challenge = "conformance-" + to_hex(random_bytes(6));
        if (auto r = start_server(srv, self_exe, o, work / "server", challenge); !r) {
            std::cerr << "scep-lab conformance: " << r.message() << "\n";
            return 2;
        }
        if (auto parsed = parse_scep_url(srv.url)) {
            scep_client sc(*parsed);
            if (auto certs = sc.get_ca_cert()) ca_certs = std::move(*certs);
        }
    }
    out << "scep-lab conformance: " << version << " against " << srv.url << " (" << cases.size() << " cases, timeout "
        << o.timeout_seconds << " s each)\n";
    // The lab's transaction log tells what it sent each case; without one
    // (inspector.enabled off) only the correct GetCACert's certificates are
    // known, and polls are not counted.
    const bool logged = newest_transaction(srv).has_value();
    if (!logged && observing) {
        std::cerr << "scep-lab conformance: watching a device needs the lab's transaction log (inspector.enabled = "
                     "true, the default)\n";
        return 2;
    }
    if (!logged)
        out << "note: the lab keeps no transaction log (inspector.enabled = false): certificates it sent in a faulted "
               "GetCACert cannot be told from the client's, and polls are not counted\n";
    const std::vector<std::string> own_files{"client.log", script_name, "client-version.txt"};

    std::vector<case_result> results;
    // The table goes to `out`; progress (a case can wait 30-60 s on PENDING)
    // to standard error: redrawn on a terminal, every 15 s in a log.
    progress shown("conformance", cases.size(), std::cerr);
    for (const auto& c : cases) {
        case_result r;
        shown.update(results.size(), c.name);
        r.c = c;
        const fs::path dir = work / "cases" / c.name;
        fs::remove_all(dir, ec);
        fs::create_directories(dir, ec);
        placeholders ph{srv.url, challenge, dir.string(), cn_for(c.name), srv.ca_file};
        if (!script.empty()) {
            std::ofstream(dir / script_name) << script;
        }
        std::string rule_id;
        const std::int64_t before = logged ? newest_transaction(srv).value_or(0) : 0;
        r.operation = rule_operation(c.rule_json);
        if (!c.rule_json.empty()) {
            auto armed = srv.call("POST", "/admin/api/faults", c.rule_json);
            if (!armed) {
                std::cerr << "scep-lab conformance: cannot arm " << c.name << ": " << armed.message() << "\n";
                return 2;
            }
            const auto* id = armed->is_object() ? armed->as_object().if_contains("id") : nullptr;
            if (!id || !id->is_string()) {
                std::cerr << "scep-lab conformance: arming " << c.name << " gave no rule id\n";
                return 2;
            }
            rule_id = std::string(id->as_string());
        }
        std::optional<observation> seen_device;
        if (observing) {
            seen_device = observe_case(srv, o, c, r, dir, ph, before, results.size(), cases.size(), shown);
        } else {
            std::vector<std::string> argv;
            for (const auto& a : command) argv.push_back(substitute(a, ph));
            auto pid = start_process(argv, dir, dir / "client.log");
            if (!pid) {
                std::cerr << "scep-lab conformance: " << pid.message() << "\n";
                return 2;
            }
            auto e = wait_for(*pid, std::chrono::seconds(o.timeout_seconds),
                              [&](double) { shown.update(results.size(), c.name); });
            r.exit_code = e.exit_code;
            r.signal = e.signal;
            r.timed_out = e.timed_out;
            r.seconds = e.seconds;
            r.timeout_seconds = o.timeout_seconds;
        }
        if (!rule_id.empty()) {
            // (With --server the answer comes from a process this one did
            // not start: a list of another shape counts as "not known".)
            r.fired_known = false;
            if (auto rules = srv.call("GET", "/admin/api/faults")) try {
                for (const auto& rule : rules->at("faults").as_array()) {
                    const auto& obj = rule.as_object();
                    if (boost::json::value_to<std::string>(obj.at("id")) != rule_id) continue;
                    r.requests = obj.at("matched").to_number<std::uint64_t>();
                    r.fired = obj.at("fired").to_number<std::uint64_t>();
                    r.fired_known = true;
                }
            } catch (const std::exception&) {
                r.fired_known = false;
            }
            (void)srv.call("DELETE", "/admin/api/faults/" + rule_id);
        }
        if (seen_device) {
            classify_observed(r, *seen_device);
        } else {
            // What the server sent in the clear in this case (faulted answers
            // included); without a log, the correct GetCACert's certificates.
            std::vector<x509_ptr> sent;
            if (auto seen = logged ? read_case_log(srv, before) : std::nullopt) {
                r.log_known = true;
                r.pki_operations = seen->pki_operations;
                r.polls = seen->polls;
                sent = std::move(seen->sent);
            }
            for (const auto& k : ca_certs) sent.push_back(dup(*k));
            r.certificate = certificate_written(dir, sent, own_files);
            const std::string output = read_text(dir / "client.log");
            // A wrapper's exit code (128 + the signal) first, then the output.
            const std::string crash_said = r.timed_out ? "" : crash_in_output(output);
            if (!r.timed_out) r.crash = crash_in_exit_code(r.exit_code);
            if (r.crash.empty()) r.crash = crash_said;
            r.said = telling_line(output, verdict_prefix, noise_prefix);
            classify(r);
            if (r.exit_code == 127 && !r.certificate && r.v != verdict::not_exercised)
                r.detail = "the command could not be executed: " + r.said;
            else if ((r.v != verdict::pass || !r.certificate) && !r.said.empty() &&
                     (r.crash.empty() || r.crash != crash_said))
                // What the client said: its first error (why it refused or died),
                // else its last line; not a crash line the outcome already quotes.
                r.detail += (r.detail.empty() ? "" : "; ") + std::string("client: ") + r.said;
        }
        if (!r.fired_known)
            r.detail += (r.detail.empty() ? "" : "; ") + std::string("the lab's fault list could not be read");
        shown.finish_line();
        // "*": observe mode could not tell acceptance from giving up.
        out << std::left << std::setw(34) << c.name << std::setw(15)
            << (std::string(to_string(r.v)) + (r.observed ? "*" : "")) << r.outcome
            << (r.detail.empty() ? "" : "  " + r.detail) << "\n"
            << std::flush;
        results.push_back(std::move(r));
    }

    shown.finish();
    auto t = count_verdicts(results);
    out << summary_text(t);
    if (!o.work_dir.empty()) out << "; each case's files under " << (work / "cases").string();
    out << "\n";
    auto write = [](const std::string& file, const std::string& text) {
        std::ofstream f(file, std::ios::binary | std::ios::trunc);
        f << text;
        if (!f) {
            std::cerr << "scep-lab conformance: cannot write " << file << "\n";
            return false;
        }
        return true;
    };
    bool written = true;
    if (!o.markdown_file.empty()) written &= write(o.markdown_file, scorecard_markdown(client_name, version, now_utc(), results));
    if (!o.junit_file.empty()) written &= write(o.junit_file, scorecard_junit(client_name, results));
    if (!written) return 2;
    return t.fail > 0 && !o.no_fail_exit ? 1 : 0;
}

}  // namespace scep::client

