// The HTTP query string of a SCEP GET, the percent-decoding and base64 of its
// message parameter (macOS half-escapes it), and the router on the same
// target: nothing may crash or answer 2xx to garbage PKIOperation input. The
// same bytes as the query of a profile download: parsed and, when accepted,
// built into a profile.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "pki/trust/mobileconfig.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/ca/issuer.hpp"
#include "pki/store/store.hpp"
#include "server/profile_download.hpp"
#include "server/router.hpp"

using namespace scep;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    for (auto& [key, value] : server::split_query(text)) {
        (void)server::decode_get_message(value);
        (void)percent_decode(key);
    }
    if (auto decoded = base64_decode(text)) {
        std::string again = base64_encode(*decoded);
        auto round = base64_decode(again);
        if (!round || *round != *decoded) __builtin_trap();  // encode/decode must round-trip
    }

    const hierarchy& pki = fuzz::lab();
    if (auto req = server::profile_request_from_query(text)) {
        req->options.scep_url = "http://127.0.0.1/scep";
        if (auto xml = build_apple_profile(pki, {}, req->options))
            if (xml->find("</plist>") == std::string::npos) __builtin_trap();
    }

    // The router, given the bytes as a request target on the SCEP path.
    static issuer iss(pki, issuance_profile{}, csr_policy{}, system_clock_fn());
    static std::unique_ptr<cert_store> store = make_memory_store();
    service_config cfg;
    cfg.challenge = "scep-lab-challenge";
    static scep_service service(pki, iss, *store, cfg);
    static server::router router(server::router_parts{.service = service, .scep_paths = {"/scep"}});
    std::string target = "/scep?" + std::string(text);
    if (target.find_first_of("\r\n ") != std::string::npos) return 0;  // not a valid request line
    server::request req{server::http::verb::get, target, 11};
    server::request_record rec;
    auto res = router.handle(req, "fuzz", rec);
    if (rec.operation == "PKIOperation" && res.result_int() == 200 &&
        res[server::http::field::content_type] != "application/x-pki-message")
        __builtin_trap();
    return 0;
}
