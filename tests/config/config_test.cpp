#include "config/config.hpp"

#include <gtest/gtest.h>

#include <toml.hpp>

#include <algorithm>

#include <map>
#include <set>

#include "support/test_support.hpp"

namespace scep::config {
namespace {

result<settings> parse(const std::string& text) { return load_string(text, "test.toml", defaults()); }

TEST(config, embedded_defaults_are_valid) {
    auto s = defaults();
    EXPECT_TRUE(validate(s));
    EXPECT_EQ(s.server.port, 8080);
    EXPECT_EQ(s.scep.challenge, "scep-lab-challenge");
    EXPECT_EQ(s.pki.tiers.size(), 3u);
}

TEST(config, the_example_file_documents_exactly_the_defaults) {
    auto s = load_file(SCEP_LAB_SOURCE_DIR "/config/scep-lab.example.toml", settings{});
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(to_toml(*s, true), to_toml(defaults(), true));
}

TEST(config, every_key_of_the_settings_table_is_in_the_example_file) {
    // The example file's values equal the defaults (test above); this makes
    // sure it also names every key, with a documentation line in the table.
    const auto example = toml::parse(SCEP_LAB_SOURCE_DIR "/config/scep-lab.example.toml");
    const auto keys = setting_keys();
    EXPECT_GE(keys.size(), 80u);
    for (const auto& k : keys) {
        SCOPED_TRACE(k.name);
        auto dot = k.name.find('.');
        const std::string section = k.name.substr(0, dot), key = k.name.substr(dot + 1);
        ASSERT_TRUE(example.contains(section));
        EXPECT_TRUE(example.at(section).contains(key)) << k.name << " is missing from config/scep-lab.example.toml";
        EXPECT_FALSE(k.doc.empty());
        EXPECT_FALSE(k.kind.empty());
    }
    // Every environment variable names a key of the table or a flag.
    for (const auto& e : env_variables()) {
        SCOPED_TRACE(e.name);
        const bool flag = e.setting.rfind("--", 0) == 0 || e.setting == "(environment only)";
        const bool known = flag || e.setting == "data_dir" || e.setting == "pki.key_passphrase_file" ||
                           std::any_of(keys.begin(), keys.end(), [&](const setting_key& k) { return k.name == e.setting; });
        EXPECT_TRUE(known) << e.setting;
    }
}

TEST(config, every_preset_style_value_is_read) {
    auto s = parse(R"(
data_dir = "/var/lib/scep-lab"
[server]
listen = "0.0.0.0"
port = 9000
read_timeout = "5s"
[log]
format = "json"
[scep]
challenge = "s3cret"
capabilities = ["POSTPKIOperation", "SHA-256"]
allow_single_des = false
[[pki.tiers]]
name = "root"
subject = "CN=Customer Root"
key = "ec-p384"
validity = "20y"
[pki.ra]
key = "rsa3072"
[issuance]
validity = "10m"
extended_key_usage = ["clientAuth", "serverAuth"]
)");
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(s->data_dir, "/var/lib/scep-lab");
    EXPECT_EQ(s->server.listen, "0.0.0.0");
    EXPECT_EQ(s->server.port, 9000);
    EXPECT_EQ(s->server.read_timeout, std::chrono::seconds(5));
    EXPECT_EQ(s->log.format, log_format::json);
    EXPECT_EQ(s->scep.challenge, "s3cret");
    EXPECT_EQ(s->scep.capabilities.size(), 2u);
    EXPECT_FALSE(s->scep.ciphers.allow_single_des);
    ASSERT_EQ(s->pki.tiers.size(), 1u);
    EXPECT_EQ(s->pki.tiers[0].key, key_type::ec_p384);
    EXPECT_EQ(s->pki.tiers[0].validity, std::chrono::hours(24 * 365 * 20));
    EXPECT_EQ(s->pki.ra.key, key_type::rsa3072);
    EXPECT_EQ(s->issuance.validity, std::chrono::minutes(10));
}

TEST(config, hardening_settings_are_read_and_their_ranges_checked) {
    auto s = parse(R"(
[scep]
require_signer_key_match = true
[renewal]
allow_repeat = true
allow_new_names = true
[issuance]
min_rsa_exponent = 65537
allow_md5_csr = true
allow_wildcards = true
max_sans = 5
max_cn_length = 100
max_subject_rdns = 4
)");
    ASSERT_TRUE(s) << s.message();
    EXPECT_TRUE(s->scep.require_signer_key_match);
    EXPECT_TRUE(s->scep.renewal.allow_repeat);
    EXPECT_TRUE(s->scep.renewal.allow_new_names);
    EXPECT_EQ(s->csr.min_rsa_exponent, 65537u);
    EXPECT_TRUE(s->csr.allow_md5);
    EXPECT_TRUE(s->csr.names.allow_wildcards);
    EXPECT_EQ(s->csr.names.max_sans, 5u);
    EXPECT_EQ(s->csr.names.max_cn_length, 100u);
    EXPECT_EQ(s->csr.names.max_subject_rdns, 4u);
    for (const char* bad : {"min_rsa_exponent = 1", "min_rsa_exponent = 2", "max_sans = 0", "max_cn_length = 0",
                            "max_subject_rdns = 100"}) {
        SCOPED_TRACE(bad);
        auto r = parse(std::string("[issuance]\n") + bad + "\n");
        ASSERT_FALSE(r);
        EXPECT_NE(r.message().find(std::string(bad).substr(0, std::string(bad).find(' '))), std::string::npos)
            << r.message();
    }
}

TEST(config, webhook_and_policy_settings_are_read_and_checked) {
    auto s = parse(R"(
[challenge]
mode = "webhook"
webhook_url = "https://ops:pa55@mdm.example/hook?token=q5ecret"
webhook_format = "step-ca"
webhook_secret = "c2VjcmV0"
webhook_id = "wh-1"
webhook_bearer_token = "tok"
webhook_timeout = "750ms"
)");
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(s->challenge.webhook_format, webhook_format::step_ca);
    EXPECT_EQ(s->challenge.webhook_timeout, std::chrono::milliseconds(750));
    EXPECT_EQ(s->challenge.webhook_id, "wh-1");
    auto text = to_toml(*s);
    EXPECT_EQ(text.find("c2VjcmV0"), std::string::npos);  // secrets masked
    EXPECT_EQ(text.find("\"tok\""), std::string::npos);
    // A credential inside the URL is masked too (hardening round two).
    EXPECT_EQ(text.find("q5ecret"), std::string::npos) << text;
    EXPECT_EQ(text.find("pa55"), std::string::npos) << text;
    EXPECT_NE(text.find("webhook_url = \"https://ops:***@mdm.example/hook?token=***\""), std::string::npos) << text;
    EXPECT_NE(to_toml(*s, true).find("token=q5ecret"), std::string::npos);
    struct case_t {
        const char* toml;
        const char* words;
    };
    for (const auto& c :
         {case_t{"[challenge]\nmode = \"webhook\"\n", "needs challenge.webhook_url"},
          case_t{"[challenge]\nmode = \"webhook\"\nwebhook_url = \"ftp://x/\"\n", "http:// or https://"},
          case_t{"[challenge]\nmode = \"ndes-policy\"\nwebhook_url = \"http://127.0.0.1:9/\"\n", "needs NDES mode"},
          case_t{"[ndes]\nenabled = true\n[challenge]\nmode = \"ndes-policy\"\nwebhook_url = \"http://127.0.0.1:9/\"\n"
                 "webhook_format = \"step-ca\"\n",
                 "is for mode = \"webhook\""},
          case_t{"[challenge]\nmode = \"webhook\"\nwebhook_url = \"http://127.0.0.1:9/\"\nwebhook_ca_file = \"x.pem\"\n",
                 "webhook_ca_file is for an https://"}}) {
        SCOPED_TRACE(c.toml);
        auto r = parse(c.toml);  // the loader validates the result
        ASSERT_FALSE(r);
        EXPECT_NE(r.message().find(c.words), std::string::npos) << r.message();
    }
    for (const char* bad : {"webhook_timeout = \"10ms\"", "webhook_timeout = \"3m\"", "webhook_format = \"json\"",
                            "mode = \"oauth\""}) {
        SCOPED_TRACE(bad);
        auto r = parse(std::string("[challenge]\n") + bad + "\n");
        ASSERT_FALSE(r);
        EXPECT_NE(r.message().find(std::string(bad).substr(0, std::string(bad).find(' '))), std::string::npos)
            << r.message();
    }
}

TEST(config, errors_name_the_file_the_line_and_the_problem) {
    struct case_t {
        const char* name;
        const char* toml;
        std::vector<const char*> expect;
    };
    std::vector<case_t> cases{
        {"unknown_key", "[server]\nport = 8080\nprot = 1\n", {"unknown setting \"server.prot\"", "test.toml", " 3 |"}},
        {"unknown_table", "\n[sevrer]\nport = 1\n", {"unknown setting \"sevrer\"", " 2 |"}},
        {"wrong_type", "[server]\nport = \"eighty\"\n", {"test.toml", " 2 |"}},
        {"port_out_of_range", "[server]\n\nport = 70000\n", {"server.port must be between 0 and 65535", " 3 |"}},
        {"bad_duration", "[issuance]\nvalidity = \"ten minutes\"\n", {"issuance.validity is not a duration", " 2 |"}},
        {"bad_key_type", "[[pki.tiers]]\nname = \"root\"\nsubject = \"CN=R\"\nkey = \"rsa1024\"\n",
         {"key must be one of", " 4 |"}},
        {"bad_subject", "[[pki.tiers]]\nname = \"root\"\nsubject = \"XX=1\"\n", {"unknown subject attribute", " 3 |"}},
        {"syntax_error", "[server\nport = 1\n", {"test.toml"}},
        {"ecdsa_ca_as_ra",
         "[pki]\nca_as_ra = true\n[[pki.tiers]]\nname = \"root\"\nsubject = \"CN=R\"\nkey = \"ec-p256\"\n",
         {"must be RSA"}},
        {"bad_log_format", "[log]\nformat = \"xml\"\n", {"log.format"}},
        {"bad_eku", "[issuance]\nextended_key_usage = [\"clientAuth\", \"bogus\"]\n", {"bogus"}},
        {"bad_scep_path", "[scep]\npaths = [\"scep\"]\n", {"must start with '/'"}},
        {"bad_pending_regex", "[approval]\npending_subjects = [\"CN=(\"]\n",
         {"is not a regular expression", " 2 |"}},
        {"bad_approval_mode", "[approval]\nmode = \"sometimes\"\n", {"approval.mode must be one of \"auto\", \"manual\"", " 2 |"}},
        {"bad_ndes_password_mode", "[ndes]\nenabled = true\npassword_mode = \"static\"\n",
         {"password_mode must be one of", " 3 |"}},
        {"bad_ndes_user", "[ndes]\nadmin_users = [\"nobody\"]\n", {"name:password", " 2 |"}},
        {"unknown_ndes_key", "[ndes]\nenable = true\n", {"unknown setting \"ndes.enable\"", " 2 |"}},
        {"bad_crl_base_url", "[crl]\nbase_url = \"ftp://x\"\n", {"crl.base_url must start with http://"}},
        {"bad_renewal_window", "[renewal]\nwindow = \"soon\"\n", {"renewal.window is not a duration", " 2 |"}},
        {"unknown_template_name", "[ndes]\nenabled = true\nsignature_template = \"SCEPSign\"\n",
         {"ndes.signature_template: unknown template \"SCEPSign\"", "IPSECIntermediateOffline"}},
        {"bad_template_eku", "[templates.Lab]\nextended_key_usage = [\"nonsense\"]\n", {"nonsense", " 1 |"}},
        {"unknown_template_key", "[templates.Lab]\nvalidty = \"1d\"\n", {"unknown setting \"templates.Lab.validty\""}},
        {"template_named_issuance", "[templates.issuance]\nvalidity = \"1d\"\n", {"names the [issuance] profile"}},
        {"bad_required_subject", "[issuance]\nrequired_subject = [\"XYZZY\"]\n", {"unknown attribute \"XYZZY\""}},
        {"bad_ra_subject", "[ndes]\nra_subject = \"QQ=1\"\n", {"ra_subject", " 2 |"}},
        {"bad_ca_cert_order", "[scep]\nca_cert_order = \"random\"\n", {"ca_cert_order must be one of", " 2 |"}},
        {"bad_quirk_status", "[quirks]\nfail_status = { GetCACert = 200 }\n", {"from 400 to 599", " 2 |"}},
        {"bad_quirk_operation", "[quirks]\nfail_status = { GetCert = 500 }\n", {"unknown operation \"GetCert\""}},
        {"bad_quirk_latency", "[quirks]\nlatency = \"fast\"\n", {"latency is a duration", " 2 |"}},
        {"bad_quirk_chain", "[quirks]\nchain = \"half\"\n", {"chain must be one of", " 2 |"}},
        {"bad_quirk_fail_info", "[quirks]\nfail_info = \"badLuck\"\n", {"fail_info must be one of", " 2 |"}},
        {"bad_quirk_every_status", "[quirks]\nfail_every_status = 302\n", {"between 400 and 599"}},
        {"expired_ra_without_ra", "[pki]\nca_as_ra = true\n[quirks]\nexpired_ra = true\n", {"quirks.expired_ra"}},
        {"ndes_pair_with_ca_as_ra", "[pki]\nca_as_ra = true\n[ndes]\nenabled = true\n", {"ndes.ra_pair = false"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto s = parse(c.toml);
        ASSERT_FALSE(s);
        for (const char* e : c.expect) EXPECT_NE(s.message().find(e), std::string::npos) << s.message();
    }
}

TEST(config, ndes_mode_brings_ndes_capabilities_unless_the_file_sets_them) {
    auto ndes = parse("[ndes]\nenabled = true\n");
    ASSERT_TRUE(ndes) << ndes.message();
    EXPECT_EQ(ndes->scep.capabilities, ndes_capabilities);
    EXPECT_TRUE(ndes->scep.ndes_replies);
    EXPECT_TRUE(ndes->scep.reply_sha1);
    auto own = parse("[scep]\ncapabilities = [\"AES\"]\n[ndes]\nenabled = true\nreply_digest = \"mirror\"\n");
    ASSERT_TRUE(own) << own.message();
    EXPECT_EQ(own->scep.capabilities, std::vector<std::string>{"AES"});
    EXPECT_FALSE(own->scep.reply_sha1);
}

TEST(config, ndes_defaults_apply_when_ndes_is_switched_on_not_on_every_later_file) {
    auto ndes = parse("[ndes]\nenabled = true\n");
    ASSERT_TRUE(ndes) << ndes.message();
    EXPECT_EQ(ndes->scep.ca_cert_order, service_config::order::ca_first);
    EXPECT_TRUE(ndes->pki.ra.ndes_pair);
    // A preset that set its own capabilities, then a file that only tweaks [ndes].
    auto legacy = load_preset("ndes-legacy", defaults());
    ASSERT_TRUE(legacy) << legacy.message();
    auto tweaked = load_string("[ndes]\npassword_mode = \"single\"\n", "mine.toml", *legacy);
    ASSERT_TRUE(tweaked) << tweaked.message();
    EXPECT_EQ(tweaked->scep.capabilities, (std::vector<std::string>{"SHA-1", "DES3"}));
    EXPECT_EQ(tweaked->ndes.password_mode, password_mode::single);
    EXPECT_EQ(tweaked->quirks.max_query_bytes, 2048u);
    auto no_pair = parse("[ndes]\nenabled = true\nra_pair = false\n[scep]\nca_cert_order = \"ra-first\"\n");
    ASSERT_TRUE(no_pair) << no_pair.message();
    EXPECT_FALSE(no_pair->pki.ra.ndes_pair);
    EXPECT_EQ(no_pair->scep.ca_cert_order, service_config::order::ra_first);
}

TEST(config, templates_fill_the_ndes_slots_in_the_service_settings) {
    auto s = parse(R"(
[ndes]
enabled = true
signature_template = "LabSign"
encryption_template = "issuance"
[templates.LabSign]
key_usage = ["digitalSignature"]
extended_key_usage = ["clientAuth", "1.3.6.1.4.1.311.20.2.2"]
validity = "30d"
required_subject = ["CN"]
[templates.IPSECIntermediateOffline]
validity = "1d"
)");
    ASSERT_TRUE(s) << s.message();
    auto c = service_settings(*s);
    ASSERT_TRUE(c.templates);
    EXPECT_EQ(c.templates->signature.name, "LabSign");
    EXPECT_EQ(c.templates->signature.key_usage, std::vector<std::string>{"digitalSignature"});
    EXPECT_EQ(c.templates->signature.validity, std::chrono::hours(24 * 30));
    EXPECT_EQ(c.templates->signature.required_subject, std::vector<std::string>{"CN"});
    // A new template starts from [issuance]: its backdate is the issuance one.
    EXPECT_EQ(c.templates->signature.backdate, s->issuance.backdate);
    EXPECT_EQ(c.templates->encryption.name, "issuance");
    EXPECT_EQ(c.templates->encryption.extended_key_usage, s->issuance.extended_key_usage);
    // The built-in template keeps its EKU when only its validity is changed.
    EXPECT_EQ(c.templates->general_purpose.name, "IPSECIntermediateOffline");
    EXPECT_EQ(c.templates->general_purpose.extended_key_usage, std::vector<std::string>{"1.3.6.1.5.5.8.2.2"});
    EXPECT_EQ(c.templates->general_purpose.validity, std::chrono::hours(24));
    EXPECT_TRUE(c.reject_utf8_challenge);
    // Outside NDES mode, no slots: the [issuance] profile for everything.
    EXPECT_FALSE(service_settings(defaults()).templates);
    EXPECT_FALSE(service_settings(defaults()).reject_utf8_challenge);
    // The round trip through to_toml keeps the templates.
    auto again = load_string(to_toml(*s, true), "round.toml", settings{});
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(to_toml(*again, true), to_toml(*s, true));
}

TEST(config, quirks_are_read_reported_and_mapped_to_the_service) {
    EXPECT_TRUE(active_quirks(defaults()).empty());
    auto s = parse(R"(
[quirks]
max_url_bytes = 16384
max_query_bytes = 2048
latency = "250ms"
fail_status = { GetCACert = 503, mscep_admin = 403 }
fail_every = 3
fail_every_status = 500
expired_ra = true
chain = "issuing-only"
fail_info = "badCertId"
[approval]
mode = "manual"
)");
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(s->quirks.latency, std::chrono::milliseconds(250));
    EXPECT_EQ(s->quirks.fail_status.at("GetCACert"), 503);
    EXPECT_EQ(s->quirks.fail_status.at("mscep_admin"), 403);
    auto lines = active_quirks(*s);
    EXPECT_EQ(lines.size(), 9u);
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    for (const char* e : {"max_url_bytes = 16384", "max_query_bytes = 2048", "latency = 250ms", "GetCACert gets HTTP 503",
                          "one in 3 SCEP requests gets HTTP 500", "expired_ra", "issuing-only",
                          "fail_info = badCertId"})
        EXPECT_NE(all.find(e), std::string::npos) << e << " in\n" << all;
    auto c = service_settings(*s);
    EXPECT_EQ(c.approval.mode, approval_mode::manual);
    EXPECT_TRUE(c.chain_issuing_only);
    EXPECT_EQ(c.forced_failure, fail_info::bad_cert_id);
    auto again = load_string(to_toml(*s, true), "round.toml", settings{});
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(to_toml(*again, true), to_toml(*s, true));
    auto no_root = parse("[quirks]\nchain = \"no-root\"\n");
    ASSERT_TRUE(no_root);
    EXPECT_FALSE(service_settings(*no_root).include_root_in_ca_chain);
}

TEST(config, retired_spellings_are_read_with_a_note_naming_what_replaces_them) {
    auto old = parse(R"(
[scep]
include_root_in_ca_chain = false
[quirks]
all_pending = true
)");
    ASSERT_TRUE(old) << old.message();
    EXPECT_EQ(old->quirks.chain, chain_quirk::no_root);
    EXPECT_EQ(old->scep.approval.mode, approval_mode::manual);
    EXPECT_FALSE(service_settings(*old).include_root_in_ca_chain);
    ASSERT_EQ(old->deprecations.size(), 2u);
    EXPECT_NE(old->deprecations[0].find("scep.include_root_in_ca_chain is retired: use quirks.chain"), std::string::npos)
        << old->deprecations[0];
    EXPECT_NE(old->deprecations[1].find("quirks.all_pending is retired: use approval.mode = \"manual\""),
              std::string::npos)
        << old->deprecations[1];
    // Written with the new keys only, and read back the same without a note.
    const std::string text = to_toml(*old, true);
    EXPECT_EQ(text.find("all_pending"), std::string::npos);
    EXPECT_EQ(text.find("include_root_in_ca_chain"), std::string::npos);
    auto again = load_string(text, "again.toml", settings{});
    ASSERT_TRUE(again) << again.message();
    EXPECT_TRUE(again->deprecations.empty());
    EXPECT_EQ(to_toml(*again, true), text);
    // The later key wins, as for any key: an explicit chain after the old flag.
    auto both = parse("[scep]\ninclude_root_in_ca_chain = false\n[quirks]\nchain = \"issuing-only\"\n");
    ASSERT_TRUE(both);
    EXPECT_EQ(both->quirks.chain, chain_quirk::issuing_only);

    // NDES one-time passwords said as a challenge mode: the NDES key, with a note.
    auto dynamic = settle({.flags = {{"--x", "ndes.enabled", "true"}}}, [](const char*) { return std::nullopt; });
    ASSERT_TRUE(dynamic);
    EXPECT_TRUE(dynamic->deprecations.empty());
    settings s = *dynamic;
    s.challenge.mode = challenge_mode::ndes_dynamic;
    s.ndes.password_mode = password_mode::single;
    derive(s);
    EXPECT_EQ(s.challenge.mode, challenge_mode::static_secret);
    EXPECT_EQ(s.ndes.password_mode, password_mode::dynamic);
    ASSERT_EQ(s.deprecations.size(), 1u);
    EXPECT_NE(s.deprecations[0].find("ndes.password_mode = \"dynamic\""), std::string::npos) << s.deprecations[0];
    // Without NDES mode it is still an error, not silently ignored.
    settings plain = defaults();
    plain.challenge.mode = challenge_mode::ndes_dynamic;
    derive(plain);
    auto refused = validate(plain);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("needs NDES mode"), std::string::npos);
}

TEST(config, every_preset_loads_validates_and_says_what_it_reproduces) {
    std::set<std::string> names;
    for (const auto& p : presets()) {
        SCOPED_TRACE(p.name);
        names.insert(p.name);
        auto s = load_preset(p.name, defaults());
        ASSERT_TRUE(s) << s.message();
        EXPECT_TRUE(validate(*s));
        EXPECT_EQ(p.text.rfind("# " + p.name + ": ", 0), 0u) << "first line names the preset and what it reproduces";
        EXPECT_NE(p.text.find("Reproduces:"), std::string::npos);
    }
    for (const char* want : {"ndes-default", "ndes-single-password", "ndes-legacy", "ndes-pending-approval",
                             "micromdm-like", "plain-rfc8894"})
        EXPECT_TRUE(names.count(want)) << want;
    auto bad = load_preset("ndes-nonexistent", defaults());
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("known: "), std::string::npos);

    auto legacy = *load_preset("ndes-legacy", defaults());
    EXPECT_TRUE(legacy.ndes.enabled);
    EXPECT_EQ(legacy.scep.capabilities, (std::vector<std::string>{"SHA-1", "DES3"}));
    auto pending = *load_preset("ndes-pending-approval", defaults());
    EXPECT_EQ(pending.scep.approval.mode, approval_mode::manual);
    auto single = *load_preset("ndes-single-password", defaults());
    EXPECT_EQ(single.ndes.password_mode, password_mode::single);
    auto mdm = *load_preset("micromdm-like", defaults());
    EXPECT_TRUE(mdm.pki.ca_as_ra);
    EXPECT_EQ(mdm.pki.tiers.size(), 1u);
    EXPECT_EQ(mdm.scep_paths, std::vector<std::string>{"/scep"});
    auto strict = *load_preset("plain-rfc8894", defaults());
    EXPECT_FALSE(strict.scep.ciphers.allow_single_des);
    EXPECT_FALSE(strict.ndes.enabled);
}

TEST(config, milliseconds_parse) {
    EXPECT_EQ(parse_millis("250ms"), std::chrono::milliseconds(250));
    EXPECT_EQ(parse_millis("2s"), std::chrono::milliseconds(2000));
    EXPECT_EQ(parse_millis("0s"), std::chrono::milliseconds(0));
    EXPECT_FALSE(parse_millis("ms"));
    EXPECT_FALSE(parse_millis("1.5s"));
    EXPECT_FALSE(parse_millis("-5ms"));
}

TEST(config, a_missing_file_is_named) {
    auto s = load_file("/nonexistent/scep-lab.toml", defaults());
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("/nonexistent/scep-lab.toml"), std::string::npos);
}

TEST(config, environment_overrides_the_common_settings) {
    std::map<std::string, std::string> env{{"SCEP_LAB_LISTEN", "::1"},         {"SCEP_LAB_PORT", "0"},
                                           {"SCEP_LAB_DATA_DIR", "/tmp/x"},    {"SCEP_LAB_CHALLENGE", "envsecret"},
                                           {"SCEP_LAB_LOG_FORMAT", "json"},    {"SCEP_LAB_LOG_LEVEL", "debug"}};
    auto lookup = [&](const char* k) -> std::optional<std::string> {
        auto it = env.find(k);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto s = defaults();
    ASSERT_TRUE(apply_env(s, lookup));
    EXPECT_EQ(s.server.listen, "::1");
    EXPECT_EQ(s.server.port, 0);
    EXPECT_EQ(s.data_dir, "/tmp/x");
    EXPECT_EQ(s.scep.challenge, "envsecret");
    EXPECT_EQ(s.log.format, log_format::json);
    EXPECT_EQ(s.log.level, log_level::debug);

    env["SCEP_LAB_PORT"] = "http";
    auto bad = apply_env(s, lookup);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("SCEP_LAB_PORT=\"http\""), std::string::npos);
    env["SCEP_LAB_PORT"] = "1";
    env["SCEP_LAB_LOG_FORMAT"] = "yaml";
    EXPECT_FALSE(apply_env(s, lookup));
}

TEST(config, effective_configuration_masks_the_challenge) {
    auto text = to_toml(defaults());
    EXPECT_EQ(text.find("scep-lab-challenge"), std::string::npos);
    EXPECT_NE(text.find("challenge = \"********\""), std::string::npos);
    EXPECT_NE(to_toml(defaults(), true).find("scep-lab-challenge"), std::string::npos);
}

TEST(config, durations_parse_and_format) {
    EXPECT_EQ(parse_duration("90s"), std::chrono::seconds(90));
    EXPECT_EQ(parse_duration("2h"), std::chrono::hours(2));
    EXPECT_FALSE(parse_duration("5"));
    EXPECT_FALSE(parse_duration("-5m"));
    EXPECT_FALSE(parse_duration("5w"));
    EXPECT_EQ(format_duration(std::chrono::hours(48)), "2d");
    EXPECT_EQ(format_duration(std::chrono::seconds(90)), "90s");
}

}  // namespace
}  // namespace scep::config

namespace scep::config {
namespace {

TEST(config, text_that_is_not_utf8_or_has_control_characters_is_refused_with_its_line) {
    // The input the config fuzzer found crashing toml11 (invalid UTF-8 in a literal string).
    auto crash = load_string(std::string("# n scepe\npassword_mode ='\"si") + std::string(40, '\xff') + "ngl'\"\x05\n",
                             "fuzz.toml", defaults());
    ASSERT_FALSE(crash);
    EXPECT_NE(crash.message().find("fuzz.toml:2: invalid UTF-8"), std::string::npos) << crash.message();
    auto ctrl = load_string("[server]\nlisten = \"127.0.0.1\x01\"\n", "c.toml", defaults());
    ASSERT_FALSE(ctrl);
    EXPECT_NE(ctrl.message().find("c.toml:2: control character 0x01"), std::string::npos) << ctrl.message();
    for (const char* overlong : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
        auto r = load_string(std::string("# ") + overlong + "\n", "o.toml", defaults());
        EXPECT_FALSE(r) << overlong;
    }
    // Real UTF-8 (and tabs, CRLF) is fine.
    auto ok = load_string("[scep]\r\nchallenge = \"p\xC3\xA4ss\xE2\x82\xAC\xF0\x9F\x94\x91\"\t# key\r\n", "u.toml", defaults());
    ASSERT_TRUE(ok) << ok.message();
    EXPECT_EQ(ok->scep.challenge, "p\xC3\xA4ss\xE2\x82\xAC\xF0\x9F\x94\x91");
}

TEST(config, https_settings_are_read_and_checked) {
    auto s = parse(R"(
[server]
http = false
[https]
listen = "::1"
port = 9443
names = ["scep.lab", "10.0.0.5"]
key = "ec-p256"
min_version = "1.3"
)");
    ASSERT_TRUE(s) << s.message();
    EXPECT_FALSE(s->server.http);
    EXPECT_TRUE(s->https.enabled);
    EXPECT_EQ(s->https.listen, "::1");
    EXPECT_EQ(s->https.port, 9443);
    EXPECT_EQ(s->https.key, key_type::ec_p256);
    EXPECT_EQ(s->https.min_version, "1.3");
    EXPECT_EQ(https_names(*s, "host1"), (std::vector<std::string>{"scep.lab", "10.0.0.5"}));
    // The round trip keeps every HTTPS setting.
    auto again = load_string(to_toml(*s, true), "round.toml", defaults());
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(to_toml(*again, true), to_toml(*s, true));

    struct bad_case {
        const char* text;
        const char* says;
    };
    for (const auto& c : std::vector<bad_case>{
             {"[https]\nmin_version = \"1.1\"\n", "min_version must be one of"},
             {"[https]\nport = 70000\n", "port must be between 0 and 65535"},
             {"[https]\nkey = \"dsa\"\n", "key must be one of"},
             {"[https]\ncert_file = \"/tmp/x.pem\"\n", "go together"},
             {"[server]\nhttp = false\n[https]\nenabled = false\n", "nothing would listen"},
             {"[server]\nport = 9000\n[https]\nport = 9000\n", "need different ports"},
             {"[https]\nnames = [\"a b\"]\n", "https.names"},
             {"[https]\nportt = 1\n", "unknown setting \"https.portt\""},
         }) {
        auto r = parse(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_NE(r.message().find(c.says), std::string::npos) << c.text << " -> " << r.message();
    }
}

TEST(config, default_https_names_cover_loopback_the_host_and_a_specific_listen_address) {
    auto s = defaults();
    EXPECT_EQ(https_names(s, "lab-host"), (std::vector<std::string>{"localhost", "127.0.0.1", "::1", "lab-host"}));
    s.server.listen = "192.168.1.20";
    EXPECT_EQ(https_names(s, "lab-host"),
              (std::vector<std::string>{"localhost", "127.0.0.1", "::1", "lab-host", "192.168.1.20"}));
    s.server.listen = "0.0.0.0";
    EXPECT_EQ(https_names(s, ""), (std::vector<std::string>{"localhost", "127.0.0.1", "::1"}));
}

TEST(config, environment_and_flags_are_parsed_as_their_keys_kind) {
    std::map<std::string, std::string> env;
    auto lookup = [&](const char* n) -> std::optional<std::string> {
        auto it = env.find(n);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    // One parser per kind: the same range and messages from either source.
    env = {{"SCEP_LAB_PORT", "70000"}};
    auto from_env = settle({}, lookup);
    ASSERT_FALSE(from_env);
    EXPECT_EQ(from_env.message(), "SCEP_LAB_PORT=\"70000\" must be an integer from 0 to 65535");
    env.clear();
    auto from_flag = settle({.flags = {{"--port", "server.port", "70000"}}}, lookup);
    ASSERT_FALSE(from_flag);
    EXPECT_EQ(from_flag.message(), "--port=\"70000\" must be an integer from 0 to 65535");
    EXPECT_FALSE(settle({.flags = {{"--port", "server.port", "80x"}}}, lookup));
    // Someone's text is echoed without control characters (no terminal escapes, no forged lines).
    auto hostile = settle({.flags = {{"--port", "server.port", "1\n\x1b[2Jx"}}}, lookup);
    ASSERT_FALSE(hostile);
    EXPECT_EQ(hostile.message(), "--port=\"1??[2Jx\" must be an integer from 0 to 65535");
    EXPECT_FALSE(settle({.flags = {{"--port", "server.port", ""}}}, lookup));
    // Enum kinds: the names of the one table.
    auto level = settle({.flags = {{"--log-level", "log.level", "loud"}}}, lookup);
    ASSERT_FALSE(level);
    EXPECT_NE(level.message().find("trace, debug, info, warn, error, off"), std::string::npos) << level.message();
    env = {{"SCEP_LAB_LOG_FORMAT", "json"}, {"SCEP_LAB_HTTPS", "off"}, {"SCEP_LAB_HTTPS_NAMES", "a.lab, 10.0.0.1,,"}};
    auto ok = settle({.flags = {{"--log-level", "log.level", "off"}}}, lookup);
    ASSERT_TRUE(ok) << ok.message();
    EXPECT_EQ(ok->log.format, log_format::json);
    EXPECT_EQ(ok->log.level, log_level::off);
    EXPECT_FALSE(ok->https.enabled);
    EXPECT_EQ(ok->https.names, (std::vector<std::string>{"a.lab", "10.0.0.1"}));
    // A secret is never echoed, from either source.
    env = {{"SCEP_LAB_ADMIN_TOKEN", "short-secret"}};
    auto token = settle({}, lookup);
    ASSERT_FALSE(token);
    EXPECT_EQ(token.message().find("short-secret"), std::string::npos) << token.message();
    env.clear();
    settings s = defaults();
    auto secret = set_from_text(s, "challenge.webhook_secret", "anything");
    ASSERT_TRUE(secret) << secret.message();
    EXPECT_EQ(s.challenge.webhook_secret, "anything");
    auto url = set_from_text(s, "challenge.webhook_timeout", "1s");  // a custom key needs the file
    ASSERT_FALSE(url);
    EXPECT_NE(url.message().find("only in a configuration file"), std::string::npos) << url.message();
    ASSERT_TRUE(set_from_text(s, "challenge.webhook_url", "https://u:pw@h.lab/check?t=1"));
    EXPECT_EQ(s.challenge.webhook_url, "https://u:pw@h.lab/check?t=1");
    auto nothing = set_from_text(s, "server.nope", "1");
    ASSERT_FALSE(nothing);
    EXPECT_NE(nothing.message().find("server.nope"), std::string::npos);
    // Durations, signed or not.
    EXPECT_TRUE(set_from_text(s, "lab.clock_offset", "-30d"));
    EXPECT_EQ(s.lab.clock_offset, std::chrono::hours(-24 * 30));
    EXPECT_FALSE(set_from_text(s, "lab.clock_offset", "yesterday"));
    EXPECT_FALSE(set_from_text(s, "renewal.window", "-1d"));
}

TEST(config, layers_are_validated_once_on_the_final_settings) {
    std::map<std::string, std::string> env{{"SCEP_LAB_PORT", "8443"}};
    auto lookup = [&](const char* n) -> std::optional<std::string> {
        auto it = env.find(n);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    // SCEP_LAB_PORT=8443 clashes with the default HTTPS port until the flag moves it.
    auto fixed = settle({.flags = {{"--https-port", "https.port", "9443"}}}, lookup);
    ASSERT_TRUE(fixed) << fixed.message();
    EXPECT_EQ(fixed->server.port, 8443);
    EXPECT_EQ(fixed->https.port, 9443);
    // Without the flag the final settings clash, and that is refused.
    auto clash = settle({}, lookup);
    ASSERT_FALSE(clash);
    EXPECT_NE(clash.message().find("8443"), std::string::npos) << clash.message();
    // A preset, the environment and the flags, lowest first.
    env = {{"SCEP_LAB_PRESET", "micromdm-like"}, {"SCEP_LAB_CHALLENGE", "from-env"}};
    auto layered = settle({.flags = {{"--data-dir", "data_dir", "/tmp/from-flag"}}}, lookup);
    ASSERT_TRUE(layered) << layered.message();
    EXPECT_EQ(layered->scep_paths, std::vector<std::string>{"/scep"});  // the preset
    EXPECT_EQ(layered->scep.challenge, "from-env");
    EXPECT_EQ(layered->data_dir, "/tmp/from-flag");
    // Each layer's own errors still name it.
    env = {{"SCEP_LAB_PRESET", "nope"}};
    auto unknown = settle({}, lookup);
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.message().find("unknown preset \"nope\""), std::string::npos);
}

TEST(config, https_environment_variables) {
    auto s = defaults();
    std::map<std::string, std::string> env{{"SCEP_LAB_HTTPS_PORT", "0"}, {"SCEP_LAB_HTTPS", "off"}};
    auto lookup = [&](const char* n) -> std::optional<std::string> {
        auto it = env.find(n);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    ASSERT_TRUE(apply_env(s, lookup));
    EXPECT_EQ(s.https.port, 0);
    EXPECT_FALSE(s.https.enabled);
    env = {{"SCEP_LAB_HTTPS_PORT", "x443"}};
    auto bad = apply_env(s, lookup);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("SCEP_LAB_HTTPS_PORT"), std::string::npos);
    env = {{"SCEP_LAB_HTTPS", "yes"}};
    EXPECT_FALSE(apply_env(s, lookup));
    env = {{"SCEP_LAB_HTTPS_NAMES", "scep.lab,,192.168.1.20"}};
    ASSERT_TRUE(apply_env(s, lookup));
    EXPECT_EQ(s.https.names, (std::vector<std::string>{"scep.lab", "192.168.1.20"}));
    env = {{"SCEP_LAB_HTTPS_NAMES", "bad name"}};
    EXPECT_FALSE(apply_env(s, lookup));
}

}  // namespace
}  // namespace scep::config

namespace scep::config {
namespace {

TEST(config_faults, kinds_with_their_own_status_and_delay_read_back) {
    auto s = load_string(R"([[faults]]
kind = "redirect"

[[faults]]
kind = "redirect"
status = 307

[[faults]]
kind = "delay-body"
delay_ms = 250

[[faults]]
kind = "http-status"
)",
                         "faults.toml", defaults());
    ASSERT_TRUE(s) << s.message();
    ASSERT_EQ(s->faults.size(), 4u);
    EXPECT_EQ(s->faults[0].status, 302);  // the kind's default, written down
    EXPECT_EQ(s->faults[1].status, 307);
    EXPECT_EQ(s->faults[2].delay_ms, 250);
    EXPECT_EQ(s->faults[3].status, 503);
    auto again = load_string(to_toml(*s, true), "round.toml", defaults());
    ASSERT_TRUE(again) << again.message() << "\n" << to_toml(*s, true);
    ASSERT_EQ(again->faults.size(), 4u);
    EXPECT_EQ(again->faults[0].status, 302);
    EXPECT_EQ(again->faults[1].status, 307);
    EXPECT_EQ(again->faults[2].delay_ms, 250);
}

TEST(config_faults, fault_rules_are_read_checked_and_written_back) {
    auto s = load_string(R"([[faults]]
kind = "wrong-recipient-nonce"
one_shot = true
when = { subject = "^CN=dev-", message_type = "PKCSReq", first = 2 }

[[faults]]
kind = "http-status"
status = 503
retry_after = 30
when = { operation = "GetCACaps", probability = 0.5, seed = 7 }
)",
                         "faults.toml", defaults());
    ASSERT_TRUE(s) << s.message();
    ASSERT_EQ(s->faults.size(), 2u);
    EXPECT_EQ(s->faults[0].kind, fault_kind::wrong_recipient_nonce);
    EXPECT_TRUE(s->faults[0].one_shot);
    EXPECT_EQ(s->faults[0].when.subject, "^CN=dev-");
    EXPECT_EQ(s->faults[0].when.first, 2u);
    EXPECT_EQ(s->faults[1].status, 503);
    EXPECT_EQ(s->faults[1].retry_after, 30);
    EXPECT_DOUBLE_EQ(s->faults[1].when.probability, 0.5);
    EXPECT_EQ(s->faults[1].when.seed, 7u);
    // `scep-lab config` writes them so that they read back the same.
    auto again = load_string(to_toml(*s, true), "round.toml", defaults());
    ASSERT_TRUE(again) << again.message() << "\n" << to_toml(*s, true);
    ASSERT_EQ(again->faults.size(), 2u);
    EXPECT_EQ(again->faults[1].when.operation, "GetCACaps");
    EXPECT_DOUBLE_EQ(again->faults[1].when.probability, 0.5);
    EXPECT_EQ(again->faults[0].when.message_type, "PKCSReq");

    for (const auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
             {"[[faults]]\nkind = \"no-such\"\n", "unknown fault kind"},
             {"[[faults]]\nwhen = { first = 1 }\n", "needs a kind"},
             {"[[faults]]\nkind = \"empty-body\"\ncolour = \"red\"\n", "faults[0].colour"},
             {"[[faults]]\nkind = \"empty-body\"\nwhen = { planet = \"mars\" }\n", "faults[0].when.planet"},
             {"[[faults]]\nkind = \"empty-body\"\nwhen = { subject = \"([x\" }\n", "regular expression"},
             {"[[faults]]\nkind = \"empty-body\"\nwhen = { probability = 0 }\n", "probability"},
             {"[[faults]]\nkind = \"http-status\"\nstatus = 200\n", "status"},
             {"faults = 3\n", "array of [[faults]]"},
             {"[[faults]]\nkind = \"redirect\"\nstatus = 503\n", "redirect needs status"},
             {"[[faults]]\nkind = \"delay-body\"\ndelay_ms = 600001\n", "delay_ms"},
         }) {
        SCOPED_TRACE(text);
        auto bad = load_string(text, "bad.toml", defaults());
        ASSERT_FALSE(bad);
        EXPECT_NE(bad.message().find(says), std::string::npos) << bad.message();
    }
}

TEST(config_file, pki_ra_usages_and_pair_are_read_and_checked) {
    auto s = parse("[pki.ra]\nkey_usage = [\"digitalSignature\"]\nextended_key_usage = [\"clientAuth\"]\npair = true\n");
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(s->pki.ra.key_usage, std::vector<std::string>{"digitalSignature"});
    EXPECT_EQ(s->pki.ra.extended_key_usage, std::vector<std::string>{"clientAuth"});
    EXPECT_TRUE(s->pki.ra.ndes_pair);
    auto bad = parse("[pki.ra]\nkey_usage = [\"sorcery\"]\n");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("pki.ra.key_usage"), std::string::npos) << bad.message();
    auto not_bool = parse("[pki.ra]\npair = \"yes\"\n");
    ASSERT_FALSE(not_bool);
    EXPECT_NE(not_bool.message().find("pair"), std::string::npos) << not_bool.message();
}

// What NDES mode implies is stated once (derive), whatever set ndes.enabled:
// a file without an [ndes] table over NDES settings keeps NDES's reply shape
// (the reader used to state it only while reading an [ndes] table).
TEST(config_derive, ndes_implications_hold_whatever_layer_enabled_ndes) {
    settings by_hand = defaults();
    by_hand.ndes.enabled = true;
    derive(by_hand);
    EXPECT_TRUE(by_hand.scep.ndes_replies);
    EXPECT_TRUE(by_hand.scep.reply_sha1);
    EXPECT_TRUE(by_hand.pki.ra.ndes_pair);
    by_hand.ndes.reply_digest = reply_digest_mode::mirror;
    derive(by_hand);
    EXPECT_FALSE(by_hand.scep.reply_sha1);

    settings enabled = defaults();
    enabled.ndes.enabled = true;  // as a caller building settings in code does
    auto over = load_string("[scep]\nchallenge = \"x\"\n", "over.toml", enabled);
    ASSERT_TRUE(over) << over.message();
    EXPECT_TRUE(over->scep.ndes_replies);
    EXPECT_TRUE(over->scep.reply_sha1);
    EXPECT_TRUE(over->pki.ra.ndes_pair);

    // Modes are enums read through one name table: TOML, environment and flags agree.
    auto level = load_string("[log]\nlevel = \"off\"\n", "off.toml", defaults());
    ASSERT_TRUE(level) << level.message();
    EXPECT_EQ(level->log.level, log_level::off);
    auto wrong = load_string("[challenge]\nmode = \"Static\"\n", "wrong.toml", defaults());
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.message().find("challenge.mode must be one of \"static\", \"ndes-dynamic\""), std::string::npos)
        << wrong.message();
}

}  // namespace
}  // namespace scep::config
