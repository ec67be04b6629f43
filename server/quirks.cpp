#include "server/quirks.hpp"

namespace scep::server {

namespace {
std::string_view reason_of(int status) {
    switch (status) {
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 414: return "Request-URI Too Long";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return status < 500 ? "Client Error" : "Server Error";
    }
}
}  // namespace

response iis_error(const request& req, int status, std::string_view detail) {
    // The shape of HTTP.sys/IIS error pages; clients only look at the status.
    std::string title(reason_of(status));
    response res{static_cast<http::status>(status), req.version()};
    res.set(http::field::content_type, "text/html; charset=us-ascii");
    res.set(http::field::server, "Microsoft-HTTPAPI/2.0");
    res.keep_alive(req.keep_alive());
    res.body() = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n"
                 "<HTML><HEAD><TITLE>" + title + "</TITLE>\r\n"
                 "<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n"
                 "<BODY><h2>" + title + "</h2>\r\n<hr><p>HTTP Error " + std::to_string(status) + ". " +
                 std::string(detail) + "</p>\r\n</BODY></HTML>\r\n";
    res.prepare_payload();
    return res;
}

response iis_request_filtering_404(const request& req) {
    // IIS answers remote clients with its short custom error page; the
    // substatus (404.15, 404.14) goes only to its log (learn.microsoft.com:
    // "Request Limits <requestLimits>").
    response res{http::status::not_found, req.version()};
    res.set(http::field::content_type, "text/html");
    res.set(http::field::server, "Microsoft-IIS/10.0");
    res.set("X-Powered-By", "ASP.NET");
    res.keep_alive(req.keep_alive());
    res.body() = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
                 "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n"
                 "<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n"
                 "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"/>\r\n"
                 "<title>404 - File or directory not found.</title>\r\n</head>\r\n<body>\r\n"
                 "<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\">\r\n"
                 "<h2>404 - File or directory not found.</h2>\r\n"
                 "<h3>The resource you are looking for might have been removed, had its name changed, or is "
                 "temporarily unavailable.</h3>\r\n</div>\r\n</body>\r\n</html>\r\n";
    res.prepare_payload();
    return res;
}

std::optional<response> quirk_gate::check_url(const request& req, std::string_view query, request_record& rec) const {
    std::string_view target = req.target();
    // HTTP.sys sees the URL first (MaxFieldLength): 414 from Windows' HTTP layer.
    if (q_.max_url_bytes && target.size() > q_.max_url_bytes) {
        rec.http_status = 414;
        rec.http_sys = true;
        rec.detail = "quirk: URL of " + std::to_string(target.size()) + " bytes exceeds quirks.max_url_bytes = " +
                     std::to_string(q_.max_url_bytes) + " (HTTP.sys: 414)";
        return iis_error(req, 414, "The request URL is too long.");
    }
    // Then IIS request filtering (maxQueryString): 404, logged as 404.15.
    if (q_.max_query_bytes && query.size() > q_.max_query_bytes) {
        rec.http_status = 404;
        rec.iis_substatus = 15;
        rec.detail = "quirk: query string of " + std::to_string(query.size()) +
                     " bytes exceeds quirks.max_query_bytes = " + std::to_string(q_.max_query_bytes) +
                     " (IIS request filtering: 404.15)";
        return iis_request_filtering_404(req);
    }
    return std::nullopt;
}

std::optional<response> quirk_gate::inject(const request& req, std::string_view operation, request_record& rec) {
    std::uint64_t n = ++seen_;
    int status = 0;
    std::string why;
    if (auto it = q_.fail_status.find(std::string(operation)); it != q_.fail_status.end()) {
        status = it->second;
        why = "quirks.fail_status." + it->first;
    } else if (q_.fail_every && n % q_.fail_every == 0) {
        status = q_.fail_every_status;
        why = "quirks.fail_every = " + std::to_string(q_.fail_every) + " (request " + std::to_string(n) + ")";
    }
    if (!status) return std::nullopt;
    rec.http_status = status;
    rec.detail = "quirk: injected by " + why;
    return iis_error(req, status, "Injected by scep-lab " + why + ".");
}

}  // namespace scep::server
