// `scep-lab clone` reads what a customer sent as hostile input
// (docs/clone.md): the first byte chooses what the rest is — a GetCACert
// answer (0), a GetCACaps answer, an admin page and a GetCACert answer
// (1: [caps length/4][caps][page length/4][page][cacert]), or a CertRep and a
// GetCACert answer (2: [length hi][length lo][certrep][cacert]).
// Whatever is read is described, compared with itself (no difference may
// appear) and planned into a lab configuration, which must load: a clone
// never writes a configuration that does not start.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include <openssl/err.h>

#include "config/config.hpp"
#include "pki/clone/clone.hpp"
#include "pki/crypto/ossl.hpp"

using namespace scep;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static const bool providers = (load_providers(), true);
    (void)providers;
    const int mode = data[0] % 3;
    std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
    clone::server_view view;
    view.source = "fuzz";
    std::string cacert = rest;
    if (mode == 1 && rest.size() >= 2) {
        const std::size_t n = std::min<std::size_t>(static_cast<unsigned char>(rest[0]) * 4, rest.size() - 1);
        view.caps = rest.substr(1, n);
        if (!clone::check_caps(*view.caps, "caps")) view.caps.reset();
        const std::size_t page_at = 1 + n;
        const std::size_t m = page_at < rest.size() ? std::min<std::size_t>(static_cast<unsigned char>(rest[page_at]) * 4, rest.size() - page_at - 1) : 0;
        if (m) {
            view.admin_page = rest.substr(page_at + 1, m);
            view.admin_status = 200;
            view.scep_path = "/certsrv/mscep/mscep.dll";
        }
        cacert = rest.substr(std::min(rest.size(), page_at + 1 + m));
    } else if (mode == 2 && rest.size() >= 2) {
        const std::size_t n = std::min<std::size_t>((static_cast<unsigned char>(rest[0]) << 8) | static_cast<unsigned char>(rest[1]),
                                                    rest.size() - 2);
        view.certrep = bytes(rest.begin() + 2, rest.begin() + 2 + static_cast<std::ptrdiff_t>(n));
        cacert = rest.substr(2 + n);
    }
    if (!cacert.empty()) {
        auto certs = clone::read_certificates(cacert, "cacert", &view.single);
        if (certs) view.certs = std::move(*certs);
    }
    if (view.certs.empty()) {
        ERR_clear_error();
        return 0;
    }
    const auto props = clone::describe(view);
    if (!clone::compare(props, props).empty()) __builtin_trap();
    auto plan = clone::plan_lab(view, clone::clone_options{});
    if (plan) {
        auto loaded = config::load_string(plan->toml, "clone.toml", config::defaults());
        if (!loaded) {
            std::fprintf(stderr, "the plan does not load: %s\n%s\n", loaded.message().c_str(), plan->toml.c_str());
            __builtin_trap();
        }
        (void)clone::fidelity_markdown(plan->fidelity, view.source);
    }
    ERR_clear_error();
    return 0;
}
