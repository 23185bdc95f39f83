// The dstack guest agent: POST /GetQuote {"report_data": hex} over its unix socket (or the
// simulator's endpoint), plain HTTP. The agent zero-pads report data to 64 bytes itself; tdxkit
// sends all 64 so that what is quoted is exactly what was asked.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "provider/provider_internal.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::provider {
namespace {

using nlohmann::json;

// GetQuote answers carry a quote (~10 KB of hex) and an event log of a few KB.
constexpr std::size_t kMaxResponse = 4 * 1024 * 1024;

struct CurlDeleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

struct Sink {
    std::string body;
    bool overflow = false;
};

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    if (sink->body.size() + size * count > kMaxResponse) {
        sink->overflow = true;
        return 0;
    }
    sink->body.append(data, size * count);
    return size * count;
}

bool is_url(std::string_view endpoint) { return endpoint.starts_with("http://") || endpoint.starts_with("https://"); }

struct Reply {
    long status = 0;
    std::string body;
};

Reply post_get_quote(const std::string& endpoint, const std::string& body, std::chrono::milliseconds timeout) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, CurlDeleter> h{curl_easy_init()};
    std::unique_ptr<curl_slist, SlistDeleter> headers{curl_slist_append(nullptr, "Content-Type: application/json")};
    if (!h || !headers) throw Error(Errc::internal, "libcurl: out of memory");
    const std::string url = is_url(endpoint)
                                ? fmt::format("{}/GetQuote", endpoint.substr(0, endpoint.find_last_not_of('/') + 1))
                                : std::string("http://dstack/GetQuote");
    Sink sink;
    char error[CURL_ERROR_SIZE] = {};
    auto* e = h.get();
    bool ok = curl_easy_setopt(e, CURLOPT_URL, url.c_str()) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_NOPROXY, "*") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count())) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get()) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str()) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size())) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, append_body) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink) == CURLE_OK;
    if (ok && !is_url(endpoint)) ok = curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, endpoint.c_str()) == CURLE_OK;
    if (!ok) throw Error(Errc::internal, "libcurl rejected an option");
    const auto rc = curl_easy_perform(e);
    if (sink.overflow) {
        throw Error(Errc::malformed, fmt::format("dstack {}: the response exceeds {} bytes", endpoint, kMaxResponse));
    }
    if (rc != CURLE_OK) {
        throw Error(Errc::io, fmt::format("dstack {}: {}", endpoint, error[0] ? error : curl_easy_strerror(rc)));
    }
    Reply reply;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &reply.status);
    reply.body = std::move(sink.body);
    return reply;
}

std::string string_member(const json& doc, const char* name, std::string_view where) {
    const auto it = doc.find(name);
    if (it == doc.end() || !it->is_string()) {
        throw Error(Errc::malformed, fmt::format("{}: the response has no string \"{}\"", where, name));
    }
    return it->get<std::string>();
}

}  // namespace

std::optional<std::string> find_dstack_endpoint(const QuoteRequest& request, std::string& tried) {
    if (!request.dstack_endpoint.empty()) return request.dstack_endpoint;
    if (const char* env = std::getenv(std::string(kDstackEndpointEnv).c_str()); env != nullptr && *env != '\0') {
        return std::string(env);
    }
    std::error_code ec;
    for (const auto path : kDstackSockets) {
        if (std::filesystem::is_socket(path, ec)) return std::string(path);
        tried += fmt::format("{}{}", tried.empty() ? "" : ", ", path);
    }
    tried += fmt::format(", ${}", kDstackEndpointEnv);
    return std::nullopt;
}

GeneratedQuote from_dstack(const QuoteRequest& request, const std::string& endpoint) {
    const std::string where = fmt::format("dstack {}{}", is_url(endpoint) ? "" : "unix:", endpoint);
    const auto reply =
        post_get_quote(endpoint, json{{"report_data", to_hex(request.report_data)}}.dump(), request.timeout);
    if (reply.status != 200) {
        // A failed request is io whatever its body: the agent's {"error": ...} message when it sent one,
        // else the body's start (a proxy's page is not JSON, and is not a malformed quote either).
        std::string message = reply.body;
        try {
            const auto doc = tdxkit::detail::parse_json(reply.body, "error response");
            const auto it = doc.is_object() ? doc.find("error") : doc.end();
            if (it != doc.end() && it->is_string()) message = it->get<std::string>();
        } catch (const Error&) {
        }
        throw Error(Errc::io, fmt::format("{}: GetQuote failed with HTTP {}: {:.200}", where, reply.status, message));
    }
    const auto doc = tdxkit::detail::parse_json(reply.body, fmt::format("{}: HTTP 200 response", where));
    if (!doc.is_object()) throw Error(Errc::malformed, fmt::format("{}: the response is not a JSON object", where));
    GeneratedQuote out;
    out.provider = QuoteProvider::dstack;
    out.source = where;
    out.quote =
        checked_quote(from_hex(string_member(doc, "quote", where), "GetQuote quote"), request.report_data, where);
    if (doc.contains("event_log")) out.event_log = string_member(doc, "event_log", where);
    if (doc.contains("vm_config")) out.vm_config = string_member(doc, "vm_config", where);
    out.response_json = reply.body;
    return out;
}

}  // namespace tdxkit::provider
