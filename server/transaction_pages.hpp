// The inspector's pages (docs/inspector.md): /transactions, a list that
// refreshes itself from /transactions.json with filters by client, status,
// finding and severity; /transactions/<id>, every decoded field of one
// exchange with its findings, the decision, the reply and the story it
// belongs to. Only decoded, non-secret fields are shown; the raw DER
// downloads go through the admin API with the token typed in.
#pragma once

#include <boost/json/object.hpp>

#include <string>

namespace scep::server {

std::string render_transactions_page(bool admin);
// `t` as transaction_json() makes it.
std::string render_transaction_page(const boost::json::object& t, bool admin);
// The list page's and the detail page's script (/transactions.js).
const std::string& transactions_script();

}  // namespace scep::server
