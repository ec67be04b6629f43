#include "client/report_text.hpp"

#include "pki/crypto/encoding.hpp"

namespace scep::client {

std::string xml_escape(std::string_view s) {
    std::string text(s);
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') c = '?';
    return markup_escape(text);
}

std::string md_cell(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n' || c == '\r')
            out += ' ';
        else
            out += c;
    }
    return out;
}

}  // namespace scep::client
