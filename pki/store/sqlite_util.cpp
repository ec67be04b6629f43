#include "pki/store/sqlite_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace scep::sqlite {

result<db_ptr> open_owner_only(const std::filesystem::path& file, const std::string& what) {
    if (int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0) {
        (void)::fchmod(fd, 0600);
        ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        std::error_code ec;
        auto side = std::filesystem::path(file.string() + suffix);
        if (std::filesystem::exists(side, ec)) (void)::chmod(side.c_str(), 0600);
    }
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return make_error(file.string() + ": cannot open " + what + ": " + msg);
    }
    return db_ptr(db);
}

std::string column_text(sqlite3_stmt* s, int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? reinterpret_cast<const char*>(t) : "";
}

bytes column_blob(sqlite3_stmt* s, int i) {
    const auto* b = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, i));
    return b ? bytes(b, b + sqlite3_column_bytes(s, i)) : bytes{};
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string escape_like(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '%' || c == '_' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace scep::sqlite
