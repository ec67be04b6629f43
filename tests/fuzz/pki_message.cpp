// PKIMessage decoding, decryption and the whole SCEP service behind them
// (renewal detection, CSR policy, issuance into a memory store), plus the
// client-side CertRep and degenerate parsers, and the transaction
// inspector's analysis (offline with the RA key, and as the server runs it
// with what the service decoded), on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include <boost/json/serialize.hpp>

#include "fuzz_support.hpp"
#include "pki/inspect/analysis.hpp"
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

    // The inspector: as the server runs it, then offline (decrypting itself).
    static const inspect::lab_view view = [&] {
        inspect::lab_view v;
        v.capabilities = {"POSTPKIOperation", "Renewal", "SHA-256", "AES"};
        v.ra_encryption_cert = &pki.ra_encryption_cert();
        v.published.emplace_back("RA", &pki.ra_cert());
        v.cas.push_back(pki.issuing().cert.get());
        v.ra_key = &pki.ra_encryption_key();
        return v;
    }();
    const inspect::decoded_request decoded{reply.inspection.p7.get(), reply.inspection.csr.get(),
                                           reply.inspection.csr_verified};
    auto served = inspect::analyze_request(in, view, reply.inspection.opened ? &reply.inspection.message_data : nullptr,
                                           &decoded);
    auto offline = inspect::analyze_request(in, view);
    if (!offline.decoded && offline.findings.empty()) __builtin_trap();  // an unreadable message is a finding
    (void)boost::json::serialize(inspect::to_json(served));
    (void)boost::json::serialize(inspect::to_json(offline));
    (void)boost::json::serialize(inspect::to_json(offline.findings));
    std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)boost::json::serialize(inspect::to_json(inspect::analyze_reply(text, "application/x-pki-message")));
    (void)inspect::analyze_reply(text, "application/x-x509-ca-cert");
    (void)inspect::analyze_reply(text, "text/plain");

    // The same bytes through the client-side parsers.
    if (auto rep = parse_cert_rep(in, pki.ra_cert())) (void)decrypt_cert_rep(*rep, pki.ra_cert(), pki.ra_key());
    (void)parse_degenerate_contents(in);
    (void)decode_issuer_and_serial(in);
    return 0;
}
