// The lab on disk, as every command opens it: the PKI and the store under
// the data directory, and what the settings say about its addresses.
#pragma once

#include <filesystem>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pki/ca/hierarchy.hpp"
#include "pki/store/store.hpp"
#include "server/logging.hpp"

namespace scep::cli {

struct lab {
    hierarchy pki;
    std::unique_ptr<lab_cert_store> store;
};

// One running instance per data directory: an exclusive lock on
// "<data_dir>/scep-lab.lock", held until the object goes away (the kernel
// drops it when the process dies, however it dies).
class data_dir_lock {
public:
    // Creates the data directory if needed; fails with the holder's pid when
    // another process has the lock.
    static result<data_dir_lock> take(const std::filesystem::path& data_dir);
    data_dir_lock(data_dir_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    data_dir_lock& operator=(data_dir_lock&&) = delete;
    data_dir_lock(const data_dir_lock&) = delete;
    ~data_dir_lock();

private:
    explicit data_dir_lock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// Loads (or generates, on the first start) the PKI and opens the store; the
// data directory is made private first.
result<lab> open_lab(const config::settings& s, server::event_log& log);

// The store of a lab that has run before; null (and a message on stderr) otherwise.
std::unique_ptr<lab_cert_store> existing_store(const config::settings& s);

// The admin API's token in force: SCEP_LAB_ADMIN_TOKEN, else the first line
// of the token file the server made (an error naming the file when there is none).
result<std::string> stored_admin_token(const config::settings& s);

std::string host_name();
// "127.0.0.1" for a wildcard listen address, "[::1]" for "::", brackets for IPv6.
std::string display_host(const std::string& listen);
// The base URL the settings give for this machine: HTTP, or HTTPS when HTTP is off.
std::string configured_base_url(const config::settings& s);
// The certificates of the HTTPS certificate file (server certificate first).
result<std::vector<x509_ptr>> read_https_chain(const config::settings& s);

}  // namespace scep::cli
