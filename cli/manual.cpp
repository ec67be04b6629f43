// `scep-lab manual`: the command line as a man page (troff), made from the
// same CLI11 tree `--help` prints and the table of SCEP_LAB_* variables, so it
// cannot drift from the program. The build writes it (scep-lab.1) and
// `cmake --install` / the .deb install it in man1.
#include <ostream>
#include <string>

#include "cli/app.hpp"

namespace scep::cli {

namespace {

// Text for troff: backslashes escaped, hyphens as minus signs, a leading
// control character neutralised.
std::string roff(const std::string& text) {
    std::string out;
    bool line_start = true;
    for (char c : text) {
        if (line_start && (c == '.' || c == '\'')) out += "\\&";
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else out += c;
        line_start = c == '\n';
    }
    return out;
}

void options_of(const CLI::App& app, std::ostream& out) {
    for (const CLI::Option* opt : app.get_options([](const CLI::Option* o) { return !o->get_group().empty(); })) {
        std::string names;
        for (const auto& s : opt->get_snames()) names += (names.empty() ? "" : ", ") + std::string("\\fB\\-") + s + "\\fR";
        for (const auto& l : opt->get_lnames()) names += (names.empty() ? "" : ", ") + std::string("\\fB\\-\\-") + roff(l) + "\\fR";
        if (names.empty()) names = "\\fI" + roff(opt->get_name()) + "\\fR";  // a positional argument
        else if (opt->get_items_expected_min() > 0) names += " \\fI" + roff(opt->get_type_name().empty() ? "VALUE" : opt->get_type_name()) + "\\fR";
        out << ".TP\n" << names << "\n" << roff(opt->get_description()) << "\n";
    }
}

void commands_of(const CLI::App& app, const std::string& path, std::ostream& out) {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App* c) { return !c->get_group().empty(); })) {
        const std::string name = path + " " + sub->get_name();
        out << ".SS \"" << roff(name) << "\"\n" << roff(sub->get_description()) << "\n";
        options_of(*sub, out);
        commands_of(*sub, name, out);
    }
}

}  // namespace

void write_manual(const CLI::App& app, std::ostream& out) {
    out << ".TH SCEP\\-LAB 1 \"\" \"scep-lab " << SCEP_LAB_VERSION << "\" \"User Commands\"\n"
        << ".SH NAME\nscep\\-lab \\- " << roff(app.get_description().substr(app.get_description().find(": ") + 2)) << "\n"
        << ".SH SYNOPSIS\n.B scep\\-lab\n[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR]\n"
        << ".SH DESCRIPTION\nA lab SCEP server for testing certificate enrollment without a customer PKI. "
           "It generates a root, intermediate and issuing CA with an RA certificate at its first start, "
           "answers SCEP (and NDES) clients, and records every certificate it issues in SQLite. "
           "\\fBscep\\-lab serve\\fR runs it; the other commands work on its data directory or call its admin API.\n"
        << ".SH GLOBAL OPTIONS\n";
    options_of(app, out);
    out << ".SH COMMANDS\n";
    commands_of(app, "scep-lab", out);
    out << ".SH ENVIRONMENT\nEach variable sets the configuration key named, read as the key is read from the file.\n";
    for (const auto& e : config::env_variables())
        out << ".TP\n.B " << roff(e.name) << "\n" << roff(e.doc) << (e.setting.empty() ? "" : " (" + roff(e.setting) + ")") << "\n";
    out << ".SH EXIT STATUS\n.TP\n0\ndone\n.TP\n1\nthe command failed (the server could not start, a record was not found, "
           "the server answered an error, a conformance case failed)\n.TP\n2\nthe command line or the configuration is wrong\n"
        << ".SH FILES\n.TP\n.I ./data\nthe data directory (\\fB\\-\\-data\\-dir\\fR): \\fIpki/\\fR (keys and certificates), "
           "\\fIscep\\-lab.db\\fR (the store), \\fIadmin\\-token\\fR, \\fIscep\\-lab.lock\\fR\n"
        << ".SH SEE ALSO\n\\fBopenssl\\fR(1), \\fBscepclient\\fR(1); the documentation in \\fI/usr/share/doc/scep\\-lab/\\fR "
           "(README.md and docs/).\n";
}

}  // namespace scep::cli
