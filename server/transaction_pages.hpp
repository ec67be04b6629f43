// The inspector's pages (docs/inspector.md): /transactions, a list that
// refreshes itself from /transactions.json with filters by client, status,
// finding and severity; /transactions/<id>, every decoded field of one
// exchange with its findings, the decision, the reply and the story it
// belongs to. Only decoded, non-secret fields are shown; the raw DER
// downloads go through the admin API with the token typed in.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdint>

#include <string>

namespace scep::server {

// The list as the server renders it (it works without JavaScript; the
// script only refreshes the rows from /transactions.rows).
struct transaction_list {
    const boost::json::array& items;  // transaction_summary_json() objects, newest first
    std::int64_t total = 0;
    std::string client, status, severity, finding;  // the filters in force
    std::string error;                               // a bad filter: shown instead of rows
};
std::string render_transactions_page(const transaction_list& list, bool admin);
// The rows alone, for the refresh: <tr>... (every value escaped).
std::string render_transaction_rows(const boost::json::array& items);
// "12 transactions match; showing 12." with thousands separators.
std::string transaction_count_text(std::int64_t total, std::size_t shown);
// `t` as transaction_json() makes it.
std::string render_transaction_page(const boost::json::object& t, bool admin);
// For pages built elsewhere (the evidence report): the pages' head with
// their style (and `extra` inside <head>), and a decoded structure as nested
// tables, every value escaped.
std::string page_head(const std::string& title, const std::string& extra = {});
std::string render_decoded(const boost::json::value& v);
// The list page's and the detail page's script (/transactions.js).
const std::string& transactions_script();

}  // namespace scep::server
