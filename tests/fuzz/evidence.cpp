// The evidence readers (docs/evidence.md) with hostile files: one target
// per reader (EVIDENCE_READER chooses it at build time). Whatever the bytes,
// the reader ends (an error naming where is fine), and what it hands on
// stays within the limits: no body over max_body, no header list over 256.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>

#include <sys/mman.h>
#include <unistd.h>

#include "pki/evidence/evidence.hpp"
#include "pki/evidence/tls_decrypt.hpp"

using namespace scep;

namespace {

evidence::limits small() {
    evidence::limits lim;
    lim.max_body = 4096;
    lim.max_headers = 2048;
    lim.max_packet = 65536;
    lim.max_block = 70000;
    lim.max_connections = 8;
    lim.max_out_of_order = 8192;
    lim.max_line = 4096;
    lim.max_document = 1 << 20;
    // A key log, so that TLS connections go through the decryptor's record
    // and handshake parsing (its secrets open nothing a fuzzer makes).
    static const evidence::tls_key_log keys = [] {
        std::istringstream in("CLIENT_RANDOM " + std::string(64, 'a') + " " + std::string(96, 'b') + "\n" +
                              "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + std::string(64, 'a') + " " + std::string(64, 'c') + "\n");
        return *evidence::tls_key_log::read(in, "fuzz");
    }();
    lim.tls_keys = &keys;
    return lim;
}

struct checking_sink final : evidence::sink {
    const evidence::limits& lim;
    explicit checking_sink(const evidence::limits& l) : lim(l) {}
    void check(const evidence::http_message& m) {
        if (m.body.size() > lim.max_body || m.headers.size() > 256 || m.body.size() > m.body_size + lim.max_body) std::abort();
    }
    void exchange(evidence::http_exchange&& x) override {
        check(x.request);
        if (x.response) check(*x.response);
    }
    void event(evidence::ndes_event&& e) override {
        if (e.text.size() > 8192) std::abort();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const evidence::limits lim = small();
    checking_sink out(lim);
#ifdef EVIDENCE_FROM_FILE
    // libevtx opens a path: the input goes to an in-memory file first.
    static const int fd = memfd_create("fuzz-evtx", 0);
    if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
    (void)EVIDENCE_READER("/proc/self/fd/" + std::to_string(fd), "fuzz", out, lim);
#else
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    (void)EVIDENCE_READER(in, "fuzz", out, lim);
#endif
    return 0;
}
