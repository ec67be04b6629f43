#include "config/config.hpp"

#include <gtest/gtest.h>

#include <map>

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
    EXPECT_EQ(s->log.format, "json");
    EXPECT_EQ(s->scep.challenge, "s3cret");
    EXPECT_EQ(s->scep.capabilities.size(), 2u);
    EXPECT_FALSE(s->scep.ciphers.allow_single_des);
    ASSERT_EQ(s->pki.tiers.size(), 1u);
    EXPECT_EQ(s->pki.tiers[0].key, key_type::ec_p384);
    EXPECT_EQ(s->pki.tiers[0].validity, std::chrono::hours(24 * 365 * 20));
    EXPECT_EQ(s->pki.ra.key, key_type::rsa3072);
    EXPECT_EQ(s->issuance.validity, std::chrono::minutes(10));
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
         {"not a valid regular expression", " 2 |"}},
        {"bad_approval_mode", "[approval]\nmode = \"sometimes\"\n", {"mode must be \"auto\" or \"manual\"", " 2 |"}},
        {"bad_ndes_password_mode", "[ndes]\nenabled = true\npassword_mode = \"static\"\n",
         {"password_mode must be one of", " 3 |"}},
        {"bad_ndes_user", "[ndes]\nadmin_users = [\"nobody\"]\n", {"name:password", " 2 |"}},
        {"unknown_ndes_key", "[ndes]\nenable = true\n", {"unknown setting \"ndes.enable\"", " 2 |"}},
        {"bad_crl_base_url", "[crl]\nbase_url = \"ftp://x\"\n", {"crl.base_url must start with http://"}},
        {"bad_renewal_window", "[renewal]\nwindow = \"soon\"\n", {"renewal.window is not a duration", " 2 |"}},
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
    EXPECT_EQ(s.log.format, "json");
    EXPECT_EQ(s.log.level, "debug");

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
