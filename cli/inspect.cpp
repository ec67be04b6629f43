#include "cli/inspect.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <iostream>

#include "cli/lab.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/inspect/analysis.hpp"
#include "pki/scep/message.hpp"
#include "pki/evidence/evidence.hpp"
#include "pki/evidence/tls_decrypt.hpp"
#include "server/evidence.hpp"
#include "server/inspector.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::cli {

namespace json = boost::json;

namespace {

constexpr std::uintmax_t max_input_bytes = 16u << 20;

// Indented "key: value" lines; findings get one line each.
void print_json(std::ostream& out, const json::value& v, int indent) {
    const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
    auto scalar = [](const json::value& x) -> std::string {
        if (x.is_string()) return std::string(x.as_string());
        if (x.is_bool()) return x.as_bool() ? "yes" : "no";
        return scep::json_text(x);
    };
    if (v.is_object()) {
        for (const auto& [k, x] : v.as_object()) {
            if (k == "findings" && x.is_array() && !x.as_array().empty() && x.as_array().front().is_object()) {
                out << pad << "findings:\n";
                for (const auto& f : x.as_array()) {
                    const auto& o = f.as_object();
                    auto get = [&](const char* key) {
                        auto it = o.find(key);
                        return it == o.end() ? std::string() : scalar(it->value());
                    };
                    out << pad << "  [" << get("severity") << "] " << get("id") << ": " << get("summary") << " ("
                        << get("reference") << ")";
                    if (!get("detail").empty()) out << " -- " << get("detail");
                    out << "\n";
                }
                continue;
            }
            if (x.is_structured() && !(x.is_array() && x.as_array().empty())) {
                out << pad << std::string(k) << ":\n";
                print_json(out, x, indent + 1);
            } else {
                out << pad << std::string(k) << ": " << (x.is_array() ? "none" : scalar(x)) << "\n";
            }
        }
    } else if (v.is_array()) {
        for (const auto& x : v.as_array()) {
            if (x.is_structured()) {
                out << pad << "-\n";
                print_json(out, x, indent + 1);
            } else {
                out << pad << "- " << scalar(x) << "\n";
            }
        }
    } else {
        out << pad << scalar(v) << "\n";
    }
}

// DER as is; PEM (any label) or base64 text (percent-encoded, as in a GET
// URL, too) decoded.
result<bytes> read_message(const std::filesystem::path& file) {
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    if (ec) return make_error(file.string() + ": " + ec.message());
    if (size > max_input_bytes) return make_error(file.string() + ": larger than 16 MiB; not a SCEP message");
    auto text = read_file(file);
    if (!text) return text.err();
    const std::string& t = *text;
    if (t.empty()) return make_error(file.string() + ": empty file");
    if (static_cast<unsigned char>(t.front()) == 0x30) return bytes(t.begin(), t.end());
    std::string body = t;
    if (auto begin = t.find("-----BEGIN"); begin != std::string::npos) {
        auto start = t.find('\n', begin);
        auto end = t.find("-----END", start == std::string::npos ? begin : start);
        if (start == std::string::npos || end == std::string::npos) return make_error(file.string() + ": broken PEM");
        body = t.substr(start + 1, end - start - 1);
    } else if (auto unescaped = percent_decode(t)) {
        body = *unescaped;
    }
    std::string compact;
    for (char c : body)
        if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
    auto der = base64_decode(compact);
    if (!der || der->empty()) return make_error(file.string() + ": neither DER, PEM nor base64");
    return std::move(*der);
}

// What a decoded request is compared with: the lab in the data directory,
// when there is one (`l` keeps it open), or nothing of a lab.
inspect::lab_view lab_here(const config::settings& s, std::vector<std::string> capabilities, std::optional<lab>& l) {
    inspect::lab_view view;
    if (std::filesystem::exists(s.pki_dir())) {
        server::event_log quiet(config::log_format::text, config::log_level::off);
        if (auto opened = open_lab(s, quiet)) {
            l.emplace(std::move(*opened));
            view = server::describe_lab(l->pki, std::move(capabilities));
            view.ra_key = &l->pki.ra_encryption_key();
        }
    }
    view.min_rsa_bits = s.csr.min_rsa_bits;
    view.min_ec_bits = s.csr.min_ec_bits;
    return view;
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

int print_catalogue(std::ostream& out) {
    out << inspect::catalogue_markdown();
    return 0;
}

int transactions_list(const config::settings& s, const std::string& format, const transaction_query& q,
                      std::ostream& out) {
    if (!std::filesystem::exists(s.transactions_file())) {
        std::cerr << "no transaction log at " << s.transactions_file().string()
                  << " (has the server run here with inspector.enabled?)\n";
        return 1;
    }
    auto log = open_sqlite_transactions(s.transactions_file());
    if (!log) {
        std::cerr << log.message() << "\n";
        return 1;
    }
    auto page = (*log)->search(q);
    if (!page) {
        std::cerr << page.message() << "\n";
        return 1;
    }
    if (format == "json") {
        json::array items;
        for (const auto& t : page->items) items.push_back(server::transaction_summary_json(t));
        out << scep::json_text(json::object{{"total", page->total}, {"items", std::move(items)}}) << "\n";
        return 0;
    }
    out << "ID      TIME                      CLIENT           OPERATION     MESSAGE     STATUS            FINDINGS\n";
    for (const auto& t : page->items) {
        auto col = [](std::string v, std::size_t w) {
            v.resize(std::max(v.size(), w), ' ');
            return v + " ";
        };
        std::string status = t.pki_status.empty() ? "HTTP " + std::to_string(t.http_status)
                                                  : t.pki_status + (t.fail_info.empty() ? "" : " " + t.fail_info);
        out << col(std::to_string(t.id), 7) << col(t.time, 25) << col(t.client, 16) << col(t.operation, 13)
            << col(t.message_type, 11) << col(status, 17) << t.findings << "\n";
    }
    out << page->items.size() << " shown of " << page->total << "\n";
    return 0;
}

int inspect(const config::settings& s, const std::string& target, const std::string& format, std::ostream& out) {
    json::value report;
    bool readable = true;
    if (all_digits(target) && !std::filesystem::exists(target)) {
        if (!std::filesystem::exists(s.transactions_file())) {
            std::cerr << "no transaction log at " << s.transactions_file().string() << "\n";
            return 1;
        }
        auto log = open_sqlite_transactions(s.transactions_file());
        if (!log) {
            std::cerr << log.message() << "\n";
            return 1;
        }
        auto found = (*log)->find(std::stoll(target));
        if (!found) {
            std::cerr << found.message() << "\n";
            return 1;
        }
        if (!*found) {
            std::cerr << "no transaction " << target << " in " << s.transactions_file().string() << "\n";
            return 1;
        }
        report = server::transaction_json(**log, **found);
    } else {
        auto der = read_message(target);
        if (!der) {
            std::cerr << "scep-lab inspect: " << der.message() << "\n";
            return 1;
        }
        // With a lab here, its certificates say what a request was encrypted
        // to, and its RA key opens it. Nothing is created when there is none.
        std::optional<lab> l;
        inspect::lab_view view = lab_here(s, config::service_settings(s).capabilities, l);
        // A CertRep (messageType 3) is a reply; anything else is read as a request.
        auto as_request = inspect::analyze_request(*der, view);
        json::object o;
        o["file"] = target;
        o["lab"] = l ? "compared with the lab in " + s.data_dir.string() : "no lab here: not decrypted";
        if (as_request.message_type == 3) {
            auto reply = inspect::analyze_reply(std::string_view(reinterpret_cast<const char*>(der->data()), der->size()),
                                                "application/x-pki-message");
            o["reply"] = inspect::to_json(reply);
        } else {
            readable = as_request.decoded;
            o["request"] = inspect::to_json(as_request);
            o["findings"] = inspect::to_json(as_request.findings);
            // Which device it looks like, from the message alone (no HTTP: no User-Agent, method or URL).
            persona::observed seen;
            seen.operation = "PKIOperation";
            seen.capabilities_known = false;
            seen.http_known = false;
            seen.ber_indefinite = der->size() > 1 && (*der)[0] == 0x30 && (*der)[1] == 0x80;
            server::fill_observed(seen, o["request"]);
            if (auto m = persona::identify(seen))
                o["device"] = m->text() + " (from the message alone: no User-Agent, method or URL)";
        }
        report = std::move(o);
    }
    if (format == "json")
        out << scep::json_text(report) << "\n";
    else
        print_json(out, report, 0);
    // Not a SCEP message at all: the report says why, the exit status too.
    return readable ? 0 : 1;
}

bool is_evidence_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    char head[4096];
    in.read(head, sizeof head);
    return evidence::detect(std::string_view(head, static_cast<std::size_t>(in.gcount()))) != evidence::file_kind::unknown;
}

int inspect_evidence(const config::settings& s, const std::vector<std::string>& files, const evidence_options& o,
                     const std::string& format, std::ostream& out) {
    std::vector<std::filesystem::path> paths(files.begin(), files.end());
    std::string ra_key;
    if (!o.ra_key_file.empty()) {
        auto text = read_file(o.ra_key_file);
        if (!text) {
            std::cerr << "scep-lab inspect: --ra-key " << text.message() << "\n";
            return 2;
        }
        ra_key = std::move(*text);
    }
    // The lab here, when there is one: what was sent to it is opened with its key.
    std::optional<lab> l;
    inspect::lab_view view = lab_here(s, {}, l);
    // The rows live in a private SQLite file (memory stays bounded whatever
    // the evidence's size), or with --import in the lab's own log, where its
    // pages and API show them beside its exchanges.
    std::error_code ec;
    std::filesystem::path dir;
    if (o.import) {
        if (!std::filesystem::exists(s.transactions_file())) {
            std::cerr << "scep-lab inspect --import: no transaction log at " << s.transactions_file().string()
                      << " (start the lab here with inspector.enabled first, or give its --data-dir)\n";
            return 2;
        }
    } else {
        dir = std::filesystem::temp_directory_path(ec) / ("scep-lab-evidence-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            std::cerr << "scep-lab inspect: cannot create a working directory " << dir.string() << ": " << ec.message()
                      << "\n";
            return 2;
        }
    }
    struct cleanup {
        std::filesystem::path d;
        ~cleanup() {
            std::error_code e;
            if (!d.empty()) std::filesystem::remove_all(d, e);
        }
    } remove_dir{dir};
    auto rows = open_sqlite_transactions(o.import ? s.transactions_file() : dir / "transactions.db");
    if (!rows) {
        std::cerr << "scep-lab inspect: " << rows.message() << "\n";
        return 2;
    }
    evidence::limits lim;
    std::optional<evidence::tls_key_log> keys;
    if (!o.tls_keylog.empty()) {
        std::ifstream in(o.tls_keylog);
        if (!in) {
            std::cerr << "scep-lab inspect: --tls-keylog " << o.tls_keylog << ": cannot be opened\n";
            return 2;
        }
        auto read = evidence::tls_key_log::read(in, o.tls_keylog);
        if (!read) {
            std::cerr << "scep-lab inspect: --tls-keylog " << read.message() << "\n";
            return 2;
        }
        if (read->size() == 0) {
            std::cerr << "scep-lab inspect: --tls-keylog " << o.tls_keylog
                      << ": no secrets in it (an NSS key log: lines such as CLIENT_RANDOM <hex> <hex>)\n";
            return 2;
        }
        keys.emplace(std::move(*read));
        lim.tls_keys = &*keys;
    }
    auto summary = server::read_evidence(paths, **rows, std::move(view), ra_key, lim);
    if (!summary) {
        std::cerr << "scep-lab inspect: " << summary.message() << "\n";
        return 2;
    }
    if (!o.html.empty()) {
        std::ofstream page(o.html, std::ios::binary | std::ios::trunc);
        if (page) server::write_evidence_html(page, **rows, *summary);
        if (!page || !page.flush()) {
            std::cerr << "scep-lab inspect: --html " << o.html << ": cannot be written\n";
            return 2;
        }
    }
    if (o.import)
        std::cerr << "imported " << summary->rows_added << " exchange(s) of " << summary->clients.size()
                  << " client(s) into " << s.transactions_file().string()
                  << (summary->rows_added ? " from transaction " + std::to_string(summary->first_id) : std::string())
                  << ": the lab's /transactions shows them, marked as imported\n";
    if (format == "json")
        server::write_evidence_json(out, **rows, *summary);
    else
        server::write_evidence_text(out, **rows, *summary);
    // A file that could not be read to its end: the report says where; the status too.
    for (const auto& f : summary->files)
        if (!f.error.empty()) {
            std::cerr << "scep-lab inspect: " << f.error << "\n";
            return 1;
        }
    return 0;
}

}  // namespace scep::cli
