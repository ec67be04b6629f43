// PKIMessage decoding, decryption and the whole SCEP service behind them
// (renewal detection, CSR policy, issuance into a memory store), plus the
// client-side CertRep and degenerate parsers, on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "pki/ca/issuer.hpp"
#include "pki/scep/message.hpp"
#include "pki/scep/service.hpp"
#include "pki/store/store.hpp"

using namespace scep;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const hierarchy& pki = fuzz::lab();
    static issuer iss(pki, issuance_profile{}, csr_policy{}, system_clock_fn());
    static std::unique_ptr<cert_store> store = make_memory_store();
    static std::size_t runs = 0;
    if (++runs % 1000 == 0) store = make_memory_store();  // bounded memory over long runs
    service_config cfg;
    cfg.challenge = "scep-lab-challenge";
    cfg.ciphers.allow_single_des = true;
    cfg.ndes_replies = (size % 2) == 0;  // both reply shapes
    scep_service service(pki, iss, *store, cfg);
    byte_view in(data, size);

    auto reply = service.pki_operation(in, "fuzz");
    if (reply.http_status == 200 && reply.body.empty()) __builtin_trap();

    // The same bytes through the client-side parsers.
    if (auto rep = parse_cert_rep(in, pki.ra_cert())) (void)decrypt_cert_rep(*rep, pki.ra_cert(), pki.ra_key());
    (void)parse_degenerate_contents(in);
    (void)decode_issuer_and_serial(in);
    return 0;
}
