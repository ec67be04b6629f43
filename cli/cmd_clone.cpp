// `scep-lab clone`: a lab that looks like a customer's server, from its URL
// or the files it answered; `clone --compare A B`: two servers' visible
// configuration side by side (docs/clone.md).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <boost/json.hpp>

#include "cli/app.hpp"
#include "client/clone_fetch.hpp"
#include "config/config.hpp"
#include "pki/clone/clone.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/json_text.hpp"
#include "pki/scep/message.hpp"

namespace scep::cli {

namespace {

namespace fs = std::filesystem;

struct clone_cli {
    client::clone_fetch_options fetch;
    std::string admin_password_file;
    clone::input_files files;
    std::vector<std::string> from_capture;
    std::string out;
    bool verbatim_urls = false, original_dates = false, ndes = false;
    std::vector<std::string> compare;
    std::string format = "text";
    int timeout_seconds = 15;
};

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

// What `clone` keeps of the original in DIR/original: what --compare reads back.
constexpr const char* original_dir = "original";

result<clone::server_view> read_clone_dir(const fs::path& dir) {
    const fs::path o = dir / original_dir;
    if (!fs::is_directory(o)) return make_error(dir.string() + ": not a clone directory (no " + original_dir + "/ in it)");
    clone::input_files f;
    if (fs::exists(o / "getcacert.p7b")) f.cacert = (o / "getcacert.p7b").string();
    if (fs::exists(o / "getcacaps.txt")) f.caps = (o / "getcacaps.txt").string();
    if (fs::exists(o / "admin-page.html")) f.admin_page = (o / "admin-page.html").string();
    if (fs::exists(o / "certrep.der")) f.certrep = (o / "certrep.der").string();
    auto view = clone::read_files(f);
    if (!view) return view.err();
    view->source = dir.string();
    // The HTTP facts, one "key: value" per line.
    std::ifstream in(o / "http.txt");
    for (std::string line; std::getline(in, line);) {
        const auto colon = line.find(": ");
        if (colon == std::string::npos) continue;
        const std::string key = line.substr(0, colon), value = printable_text(line.substr(colon + 2), 256, '?');
        if (key == "server") view->server_header = value;
        else if (key == "x-powered-by") view->powered_by = value;
        else if (key == "scep-path") view->scep_path = value;
        else if (key == "getnextcacert") view->next_status = std::atoi(value.c_str());
        else if (key == "admin-status") view->admin_status = std::atoi(value.c_str());
        else if (key == "admin-login") view->admin_needs_login = value == "required";
        else if (key == "getcacaps-content-type") view->caps_content_type = value;
        else if (key == "getcacert-content-type") view->cacert_content_type = value;
    }
    return view;
}

result<clone::server_view> read_side(const std::string& what, const clone_cli& o) {
    if (is_url(what)) {
        auto f = o.fetch;
        f.url = what;
        return client::fetch_view(f);
    }
    std::error_code ec;
    if (fs::is_directory(what, ec)) return read_clone_dir(what);
    clone::input_files files;
    files.cacert = what;
    return clone::read_files(files);
}

result<void> write_all(const fs::path& dir, const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [name, data] : files) {
        const fs::path p = dir / name;
        std::error_code ec;
        fs::create_directories(p.parent_path(), ec);
        std::ofstream out(p, std::ios::binary);
        out << data;
        if (!out) return make_error("cannot write " + p.string());
    }
    return {};
}

int run_clone(const clone_cli& o) {
    const bool from_url = !o.fetch.url.empty();
    const bool from_files = !o.files.cacert.empty() || !o.files.caps.empty() || !o.files.admin_page.empty() ||
                            !o.files.certrep.empty();
    const bool from_capture = !o.from_capture.empty();
    if (int(from_url) + int(from_files) + int(from_capture) != 1) {
        std::cerr << "scep-lab clone: give one of --url URL, the files (--cacert FILE [--caps FILE] "
                     "[--admin-page FILE] [--certrep FILE]) or --from-capture FILE (a capture or HAR)\n";
        return 2;
    }
    if (o.out.empty()) {
        std::cerr << "scep-lab clone: --out DIR: where to write the lab's configuration\n";
        return 2;
    }
    std::error_code ec;
    const fs::path out = fs::absolute(o.out, ec);
    if (fs::exists(out) && !(fs::is_directory(out) && fs::is_empty(out))) {
        std::cerr << "scep-lab clone: --out " << o.out << " exists and is not an empty directory: nothing written\n";
        return 2;
    }
    auto fetch = o.fetch;
    if (!o.admin_password_file.empty()) {
        std::ifstream in(o.admin_password_file);
        if (!in || !std::getline(in, fetch.admin_password)) {
            std::cerr << "scep-lab clone: --admin-password-file " << o.admin_password_file << ": cannot read it\n";
            return 2;
        }
        if (!fetch.admin_password.empty() && fetch.admin_password.back() == '\r') fetch.admin_password.pop_back();
    }
    auto view = from_url       ? client::fetch_view(fetch)
                : from_capture ? clone::read_evidence_view(o.from_capture)
                               : clone::read_files(o.files);
    if (!view) {
        std::cerr << "scep-lab clone: " << view.message() << " (nothing written)\n";
        return 2;
    }
    clone::clone_options opt;
    opt.verbatim_urls = o.verbatim_urls;
    opt.original_dates = o.original_dates;
    opt.ndes = o.ndes;
    opt.data_dir = (out / "data").string();
    auto plan = clone::plan_lab(*view, opt);
    if (!plan) {
        std::cerr << "scep-lab clone: " << plan.message() << " (nothing written)\n";
        return 2;
    }
    // The configuration must load as it is written: checked before writing.
    if (auto loaded = config::load_string(plan->toml, (out / "scep-lab.toml").string(), config::defaults()); !loaded) {
        std::cerr << "scep-lab clone: the configuration made from this server does not load (" << loaded.message()
                  << "); nothing written. Please report it with the input files.\n";
        return 2;
    }
    std::vector<const X509*> certs;
    for (const auto& c : view->certs) certs.push_back(c.get());
    const bytes p7b = build_degenerate(certs);
    std::string http = "scep-path: " + view->scep_path + "\nserver: " + view->server_header + "\nx-powered-by: " +
                       view->powered_by + "\ngetnextcacert: " + std::to_string(view->next_status) +
                       "\nadmin-status: " + std::to_string(view->admin_status) +
                       "\nadmin-login: " + (view->admin_needs_login ? "required" : "") +
                       "\ngetcacaps-content-type: " + view->caps_content_type +
                       "\ngetcacert-content-type: " + view->cacert_content_type + "\n";
    std::vector<std::pair<std::string, std::string>> files{
        {"scep-lab.toml", plan->toml},
        {"fidelity.md", clone::fidelity_markdown(plan->fidelity, view->source)},
        {std::string(original_dir) + "/http.txt", http}};
    if (!certs.empty()) files.emplace_back(std::string(original_dir) + "/getcacert.p7b", std::string(p7b.begin(), p7b.end()));
    if (view->caps) files.emplace_back(std::string(original_dir) + "/getcacaps.txt", *view->caps);
    if (view->admin_page) files.emplace_back(std::string(original_dir) + "/admin-page.html", *view->admin_page);
    if (view->certrep) files.emplace_back(std::string(original_dir) + "/certrep.der", std::string(view->certrep->begin(), view->certrep->end()));
    // Written beside, then renamed into place: a failed clone leaves nothing.
    const fs::path tmp = out.parent_path() / ("." + out.filename().string() + ".clone-" + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) {
        std::cerr << "scep-lab clone: cannot create " << tmp.string() << ": " << ec.message() << "\n";
        return 2;
    }
    if (auto w = write_all(tmp, files); !w) {
        fs::remove_all(tmp, ec);
        std::cerr << "scep-lab clone: " << w.message() << " (nothing written)\n";
        return 2;
    }
    if (fs::exists(out)) fs::remove(out, ec);  // the empty directory
    fs::rename(tmp, out, ec);
    if (ec) {
        fs::remove_all(tmp, ec);
        std::cerr << "scep-lab clone: cannot move the clone into " << out.string() << "\n";
        return 2;
    }
    if (o.format == "json") {
        boost::json::array rows;
        for (const auto& r : plan->fidelity)
            rows.push_back(boost::json::object{{"property", r.property}, {"verdict", r.verdict}, {"detail", r.detail}});
        std::cout << json_text(boost::json::object{{"config", (out / "scep-lab.toml").string()}, {"fidelity", rows}}) << "\n";
    } else {
        std::cout << clone::fidelity_text(plan->fidelity) << "\nwrote " << (out / "scep-lab.toml").string()
                  << " and fidelity.md; serve it with:\n  scep-lab serve --config " << (out / "scep-lab.toml").string() << "\n";
    }
    return 0;
}

int run_compare(const clone_cli& o) {
    if (o.compare.size() != 2) {
        std::cerr << "scep-lab clone: --compare takes two servers: A B (each a URL, a clone directory or a GetCACert file)\n";
        return 2;
    }
    auto a = read_side(o.compare[0], o);
    if (!a) {
        std::cerr << "scep-lab clone: " << o.compare[0] << ": " << a.message() << "\n";
        return 2;
    }
    auto b = read_side(o.compare[1], o);
    if (!b) {
        std::cerr << "scep-lab clone: " << o.compare[1] << ": " << b.message() << "\n";
        return 2;
    }
    const auto diffs = clone::compare(clone::describe(*a), clone::describe(*b));
    std::size_t real = 0;
    for (const auto& d : diffs) real += d.uncopyable ? 0 : 1;
    if (o.format == "json") {
        boost::json::array rows;
        for (const auto& d : diffs)
            rows.push_back(boost::json::object{{"property", d.name}, {"a", d.a}, {"b", d.b}, {"expected", d.uncopyable}});
        std::cout << json_text(boost::json::object{{"a", a->source}, {"b", b->source}, {"differences", rows},
                                                   {"unexpected", real}})
                  << "\n";
    } else {
        std::cout << "A: " << a->source << "\nB: " << b->source << "\n";
        for (const auto& d : diffs)
            std::cout << (d.uncopyable ? "  (expected) " : "  DIFFERS    ") << d.name << "\n      A: " << d.a << "\n      B: " << d.b << "\n";
        std::cout << real << " difference(s) beyond keys, serials, dates and fingerprints ("
                  << diffs.size() - real << " of those)\n";
    }
    return real == 0 ? 0 : 1;
}

}  // namespace

void add_clone_command(CLI::App& app, command_line& cl) {
    auto o = std::make_shared<clone_cli>();
    auto* cmd = app.add_subcommand("clone",
                                   "make a lab that looks like a customer's SCEP server, from its URL or the files it "
                                   "answered; or compare two servers (docs/clone.md)");
    cmd->add_option("--url", o->fetch.url,
                    "the server's SCEP URL: only GetCACaps, GetCACert and GetNextCACert are sent");
    cmd->add_option("--ca-file", o->fetch.ca_file, "https://: verify the server against these PEM certificates");
    cmd->add_option("--admin-user", o->fetch.admin_user,
                    "also read NDES's admin page as this user (it hands out a password; the user's password "
                    "from --admin-password-file)");
    cmd->add_option("--admin-password-file", o->admin_password_file, "the admin page user's password (first line)");
    cmd->add_flag("--admin-open", o->fetch.admin_open, "also read NDES's admin page, which needs no login");
    cmd->add_option("--caps", o->files.caps, "file: the GetCACaps answer");
    cmd->add_option("--cacert", o->files.cacert, "file: the GetCACert answer (p7b, DER or PEM)");
    cmd->add_option("--admin-page", o->files.admin_page, "file: NDES's admin page as saved");
    cmd->add_option("--certrep", o->files.certrep, "file: a CertRep the server sent (DER, base64 or PEM); alone, its CA's name");
    cmd->add_option("--from-capture", o->from_capture,
                    "files: captures (pcap, pcapng) or HAR holding the server's GetCACert (and GetCACaps, admin page, "
                    "CertRep) answers (docs/evidence.md)");
    cmd->add_option("--out", o->out, "the directory to write (new or empty): scep-lab.toml, fidelity.md, original/");
    cmd->add_flag("--verbatim-urls", o->verbatim_urls, "keep CDP and AIA URLs as the customer's (default: the lab's)");
    cmd->add_flag("--ndes", o->ndes, "NDES mode whatever the server showed (its path, IIS and admin page say so otherwise)");
    cmd->add_flag("--original-dates", o->original_dates, "the certificates' own notBefore and notAfter (default: from now)");
    cmd->add_option("--compare", o->compare, "compare two servers instead: A B, each a URL, a clone directory or a "
                                            "GetCACert file; exit 0 when they differ only in keys, serials, dates")
        ->expected(2);
    cmd->add_option("--format", o->format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
    cmd->add_option("--timeout", o->timeout_seconds, "seconds per HTTP exchange (default 15)")->check(CLI::Range(1, 600));
    cmd->callback([&cl, o] {
        cl.choose([o] {
            o->fetch.timeout = std::chrono::seconds(o->timeout_seconds);
            return o->compare.empty() ? run_clone(*o) : run_compare(*o);
        });
    });
}

}  // namespace scep::cli
