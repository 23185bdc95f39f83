// The libcurl transport. Every curl handle is owned by a unique_ptr; TLS verification cannot be
// turned off; proxies come from the environment as libcurl does by default.

#include <memory>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

#include "pcs/client.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/version.hpp"

namespace tdxkit {
namespace {

struct EasyDeleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;

void global_init() {
    // curl_global_init is not thread-safe on every libcurl build; do it once.
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw Error(Errc::internal, "curl_global_init failed");
        }
    });
}

struct Transfer {
    HttpResponse response;
    std::size_t max_body = 0;
    bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const auto n = size * count;
    if (t->response.body.size() + n > t->max_body) {
        t->too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    t->response.body.append(data, n);
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const auto n = size * count;
    std::string_view line(data, n);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    // A redirect or "100 Continue" starts a new header block: keep only the final response's.
    if (line.starts_with("HTTP/")) {
        t->response.headers.clear();
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    t->response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    return n;
}

bool retryable(CURLcode rc) noexcept {
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_FILESIZE_EXCEEDED: return false;
    default: return true;
    }
}

class CurlTransport final : public HttpTransport {
public:
    explicit CurlTransport(HttpOptions options) : options_(std::move(options)) { global_init(); }

    HttpResponse get(const std::string& url) override {
        EasyPtr h{curl_easy_init()};
        if (!h) throw Error(Errc::internal, "curl_easy_init failed");
        Transfer t;
        t.max_body = options_.max_body;
        char error[CURL_ERROR_SIZE] = {};
        const auto agent = fmt::format("tdxkit/{}", kVersion);
        auto* e = h.get();
        bool ok =
            curl_easy_setopt(e, CURLOPT_URL, url.c_str()) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count())) ==
                CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count())) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_body)) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_USERAGENT, agent.c_str()) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_WRITEDATA, &t) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_HEADERDATA, &t) == CURLE_OK;
        if (ok && !options_.ca_file.empty())
            ok = curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str()) == CURLE_OK;
        if (!ok) throw Error(Errc::internal, "libcurl rejected an option (built without HTTPS support?)");

        const CURLcode rc = curl_easy_perform(e);
        if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            throw Error(Errc::malformed,
                        fmt::format("response from {} exceeds the limit of {} bytes", url, options_.max_body));
        }
        if (rc != CURLE_OK) {
            HttpResponse failed;
            failed.transport_error = error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(rc));
            failed.retryable = retryable(rc);
            return failed;
        }
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        t.response.status = status;
        return std::move(t.response);
    }

private:
    HttpOptions options_;
};

}  // namespace

std::unique_ptr<HttpTransport> make_curl_transport(const HttpOptions& options) {
    return std::make_unique<CurlTransport>(options);
}

}  // namespace tdxkit
