#include "cli/lab.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace scep::cli {

using server::event_log;

namespace {

// The data directory holds keys, tokens and the store: owner only. It is
// made 0700 when it is this user's; a shared one (another owner, the sticky
// bit of /tmp, the home directory) is left alone with a warning.
void make_data_dir_private(const std::filesystem::path& dir, event_log& log) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(dir, ec)) fs::create_directories(dir, ec);
    struct stat st {};
    if (ec || ::stat(dir.c_str(), &st) != 0) return;  // opening the lab reports what is wrong with the path
    if ((st.st_mode & 077) == 0) return;
    const char* home = std::getenv("HOME");
    const bool shared = st.st_uid != ::geteuid() || (st.st_mode & S_ISVTX) ||
                        fs::equivalent(dir, "/", ec) || (home && fs::equivalent(dir, home, ec));
    if (shared) {
        log.warn("the data directory is open to other users and not scep-lab's own; keep the lab's keys in a "
                 "directory of their own",
                 {{"data_dir", dir.string()}});
        return;
    }
    if (::chmod(dir.c_str(), 0700) == 0)
        log.info("made the data directory private (0700)", {{"data_dir", dir.string()}});
}

}  // namespace

result<data_dir_lock> data_dir_lock::take(const std::filesystem::path& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return make_error("cannot create the data directory " + data_dir.string() + ": " + ec.message());
    const auto file = data_dir / "scep-lab.lock";
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error("cannot open the lock file " + file.string() + ": " + std::strerror(errno));
    data_dir_lock lock(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        if (e != EWOULDBLOCK) return make_error("cannot lock " + file.string() + ": " + std::strerror(e));
        char buf[32] = {};
        const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
        std::string holder(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
        holder = holder.substr(0, holder.find_first_not_of("0123456789"));
        return make_error("another scep-lab" + (holder.empty() ? std::string() : " (pid " + holder + ")") +
                          " is using the data directory " + data_dir.string() +
                          "; stop it, or give this one its own --data-dir");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)::pwrite(fd, pid.data(), pid.size(), 0);
    return lock;
}

data_dir_lock::~data_dir_lock() {
    if (fd_ >= 0) ::close(fd_);
}

result<lab> open_lab(const config::settings& s, event_log& log) {
    load_providers();
    make_data_dir_private(s.data_dir, log);
    {
        // An empty file where the store should be is most often a failed copy
        // or restore: say so instead of silently starting with no certificates.
        std::error_code ec;
        if (std::filesystem::is_regular_file(s.store_file(), ec) && std::filesystem::file_size(s.store_file(), ec) == 0 &&
            !ec)
            log.warn("the store file is empty (0 bytes): starting with no certificates; if it held some, stop and "
                     "restore it from a backup",
                     {{"file", s.store_file().string()}});
    }
    auto pki = hierarchy::open(s.pki, s.pki_dir(), config::lab_clock(s)(),
                               [&](const std::string& note) {
                                   if (note.rfind("warning: ", 0) == 0)
                                       log.warn(note.substr(9));
                                   else
                                       log.info(note);
                               });
    if (!pki) return pki.err();
    auto store = open_sqlite_store(s.store_file());
    if (!store) return store.err();
    return lab{std::move(*pki), std::move(*store)};
}

result<std::string> stored_admin_token(const config::settings& s) {
    if (!s.admin.token.empty()) return s.admin.token;
    const auto file = s.admin_token_file();
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
        return make_error("no admin token in " + file.string() +
                          " yet: the server makes it at its first start with the admin API on (or set SCEP_LAB_ADMIN_TOKEN)");
    auto text = read_file(file);
    if (!text) return make_error("admin token: " + text.message());
    return text->substr(0, text->find_first_of("\r\n"));
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return {};
    return buf;
}

// The base URL the settings give for this machine: HTTP, or HTTPS when HTTP is off.
std::string configured_base_url(const config::settings& s) {
    return s.server.http ? "http://" + display_host(s.server.listen) + ":" + std::to_string(s.server.port)
                         : "https://" + display_host(s.https_listen()) + ":" + std::to_string(s.https.port);
}

// The certificates of the HTTPS certificate file (server certificate first).
result<std::vector<x509_ptr>> read_https_chain(const config::settings& s) {
    const auto file = s.https_cert_file();
    auto pem = read_file(file);
    if (!pem)
        return make_error(s.https.cert_file.empty() ? "no HTTPS certificate at " + file.string() +
                                                          " (it is issued at the first start with HTTPS on)"
                                                    : pem.message());
    auto certs = x509_list_from_pem(*pem);
    if (!certs || certs->empty()) return make_error(file.string() + " holds no certificate");
    return std::move(*certs);
}

std::string display_host(const std::string& listen) {
    if (listen == "0.0.0.0" || listen.empty()) return "127.0.0.1";
    if (listen == "::") return "[::1]";
    if (listen.find(':') != std::string::npos) return "[" + listen + "]";
    return listen;
}

// The store of an existing data dir, for commands that act while the server
// runs (SQLite WAL lets both work at once).
std::unique_ptr<lab_cert_store> existing_store(const config::settings& s) {
    if (!std::filesystem::exists(s.store_file())) {
        std::cerr << "no store at " << s.store_file().string() << " (has the server run with this data dir?)\n";
        return nullptr;
    }
    auto store = open_sqlite_store(s.store_file());
    if (!store) {
        std::cerr << store.message() << "\n";
        return nullptr;
    }
    return std::move(*store);
}

}  // namespace scep::cli
