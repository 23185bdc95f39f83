// serve::run: the HTTP transport (libmicrohttpd, one epoll thread) in front of Service. Requests are
// read by the event thread, verified by a pool of workers while their connection is suspended, and
// answered by the event thread again, so a slow collateral fetch holds one worker, never the loop.
//
// Limits, each with its answer:
// - a body over max_body: 413 as soon as Content-Length or the bytes read say so;
// - more than max_inflight requests verified or queued: 503 with Retry-After;
// - more than max_connections open: refused at accept (closed at once);
// - a request not fully read within request_timeout (a client sending a byte a second), or a
//   keep-alive connection idle that long: the connection is shut down by the watchdog.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/errno_message.hpp"
#include "core/json_writer.hpp"
#include "core/read_file.hpp"
#include "serve/service_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/serve.hpp"

namespace tdxkit::serve {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::size_t kMaxTlsFile = 1024 * 1024;

// A fixed pool of verification threads.
class Workers {
public:
    explicit Workers(unsigned count) {
        for (unsigned i = 0; i < count; ++i) threads_.emplace_back([this] { loop(); });
    }
    ~Workers() {
        {
            const std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        ready_.notify_all();
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }
    // Lets the process end without waiting for jobs that are still running.
    void abandon() {
        {
            const std::lock_guard lock(mutex_);
            stopping_ = true;
            jobs_.clear();
        }
        ready_.notify_all();
        for (auto& t : threads_) t.detach();
    }
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;

    void submit(std::function<void()> job) {
        {
            const std::lock_guard lock(mutex_);
            jobs_.push_back(std::move(job));
        }
        ready_.notify_one();
    }

private:
    void loop() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
                if (jobs_.empty()) return;
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

// Per connection (libmicrohttpd's socket context): what the watchdog needs.
struct ConnectionState {
    int fd = -1;
    Clock::time_point idle_since = Clock::now();  // reading a request or idle since then
    bool busy = false;                            // a complete request is being verified or answered
};

// Per request (libmicrohttpd's con_cls).
struct RequestState {
    Request request;
    Clock::time_point started = Clock::now();
    bool too_large = false;
    bool dispatched = false;
    std::optional<Response> response;  // written by a worker before it resumes the connection
};

class Server {
public:
    explicit Server(const Options& options) : service_(options), workers_(worker_count(options)) {}

    std::size_t run(const std::atomic<bool>& stop, std::atomic<bool>& reload);
    [[nodiscard]] bool abandoned() {
        const std::lock_guard lock(resume_mutex_);
        return abandoned_;
    }

private:
    static unsigned worker_count(const Options& o) {
        return o.workers != 0 ? o.workers : std::max(1U, std::thread::hardware_concurrency());
    }

    void log(const json& line) const {
        if (service_.options().log) service_.options().log(line.dump(-1, ' ', false, json::error_handler_t::replace));
    }

    // One line per request, written directly: it is built on the event thread for every request.
    std::string request_log_line(const Request& request, const Response& response, double seconds) {
        std::string line;
        detail::JsonWriter w(line, -1);
        w.begin_object();
        w.key("event");
        w.string("request");
        w.key("id");
        w.number(++request_ids_);
        w.key("latency_ms");
        w.raw(fmt::format("{:.3f}", seconds * 1000.0));
        w.key("method");
        w.string(std::string_view(request.method).substr(0, 16));
        w.key("path");
        w.string(std::string_view(request.path).substr(0, 128));
        w.key("reason_class");
        w.string(response.reason_class);
        w.key("status");
        w.number(response.status);
        w.key("verdict");
        w.string(response.verdict);
        w.end_object();
        return line;
    }

    // ---- libmicrohttpd callbacks ----

    static void on_connection(void* cls, MHD_Connection* connection, void** socket_context,
                              MHD_ConnectionNotificationCode code) {
        auto& self = *static_cast<Server*>(cls);
        const std::lock_guard lock(self.connections_mutex_);
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
            auto state = std::make_unique<ConnectionState>();
            const auto* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
            state->fd = info != nullptr ? info->connect_fd : -1;
            *socket_context = state.get();
            self.connections_.emplace(state.get(), std::move(state));
        } else {
            self.connections_.erase(static_cast<ConnectionState*>(*socket_context));
        }
    }

    // A connection over max_connections is refused at accept (closed at once). Left in the listen
    // backlog instead, as libmicrohttpd does at its own limit, it would wait unanswered, with no
    // timeout of ours, until an idle connection timed out.
    static MHD_Result on_accept(void* cls, const sockaddr* /*addr*/, socklen_t /*length*/) {
        auto& self = *static_cast<Server*>(cls);
        const std::lock_guard lock(self.connections_mutex_);
        return self.connections_.size() < self.service_.options().max_connections ? MHD_YES : MHD_NO;
    }

    ConnectionState* connection_state(MHD_Connection* connection) {
        const auto* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return info != nullptr ? static_cast<ConnectionState*>(info->socket_context) : nullptr;
    }

    void set_busy(MHD_Connection* connection, bool busy) {
        const std::lock_guard lock(connections_mutex_);
        if (auto* c = connection_state(connection)) {
            c->busy = busy;
            c->idle_since = Clock::now();
        }
    }

    static void on_completed(void* cls, MHD_Connection* connection, void** con_cls, MHD_RequestTerminationCode) {
        auto& self = *static_cast<Server*>(cls);
        delete static_cast<RequestState*>(*con_cls);
        *con_cls = nullptr;
        self.set_busy(connection, false);
    }

    MHD_Result answer(MHD_Connection* connection, RequestState& state, const Response& response) {
        auto* r = MHD_create_response_from_buffer(response.body.size(), const_cast<char*>(response.body.data()),
                                                  MHD_RESPMEM_MUST_COPY);
        if (r == nullptr) return MHD_NO;
        MHD_add_response_header(r, "Content-Type", response.content_type.c_str());
        for (const auto& [name, value] : response.headers) MHD_add_response_header(r, name.c_str(), value.c_str());
        if (stopping_.load()) MHD_add_response_header(r, "Connection", "close");
        const auto result = MHD_queue_response(connection, static_cast<unsigned>(response.status), r);
        MHD_destroy_response(r);
        const double seconds = std::chrono::duration<double>(Clock::now() - state.started).count();
        service_.record(state.request, response, seconds);
        if (service_.options().log) service_.options().log(request_log_line(state.request, response, seconds));
        return result;
    }

    static MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                                 const char* /*version*/, const char* upload_data, size_t* upload_size,
                                 void** con_cls) {
        auto& self = *static_cast<Server*>(cls);
        const auto& options = self.service_.options();
        auto* state = static_cast<RequestState*>(*con_cls);
        if (state == nullptr) {
            state = new RequestState();
            state->request.method = method;
            state->request.path = url;
            *con_cls = state;
            const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
            if (length != nullptr && std::strtoull(length, nullptr, 10) > options.max_body) state->too_large = true;
            if (!state->too_large) return MHD_YES;
        }
        if (state->response) return self.answer(connection, *state, *state->response);
        if (*upload_size != 0) {
            if (!state->too_large && *upload_size > options.max_body - state->request.body.size()) {
                state->too_large = true;
                state->request.body.clear();
                state->request.body.shrink_to_fit();
            }
            if (!state->too_large) state->request.body.append(upload_data, *upload_size);
            *upload_size = 0;
            if (!state->too_large) return MHD_YES;
        }
        if (state->too_large) {
            // Answered at once; libmicrohttpd closes the connection rather than read the rest.
            return self.answer(connection, *state,
                               error_response(413, "body_too_large",
                                              fmt::format("the request body is over the server's limit of {} bytes "
                                                          "(--max-body)",
                                                          options.max_body)));
        }
        if (state->dispatched) return MHD_YES;  // resumed spuriously; the worker has not answered yet
        self.set_busy(connection, true);
        // Health and metrics are cheap and must answer even when every worker is busy.
        if (state->request.method == "GET" || state->request.method == "HEAD")
            return self.answer(connection, *state, self.service_.handle(state->request));
        if (self.stopping_.load()) {
            // Once shutting down nothing new is suspended: libmicrohttpd cannot stop with a suspended
            // connection, and a keep-alive client can still send after the listener is closed.
            auto closing = error_response(503, "shutting_down", "the service is shutting down; retry elsewhere");
            closing.headers.emplace_back("Retry-After", "1");
            return self.answer(connection, *state, closing);
        }
        if (!self.service_.try_begin_request()) {
            auto busy = error_response(
                503, "overloaded",
                fmt::format("{} requests are already in flight (--max-inflight); retry shortly", options.max_inflight));
            busy.headers.emplace_back("Retry-After", "1");
            return self.answer(connection, *state, busy);
        }
        state->dispatched = true;
        MHD_suspend_connection(connection);
        self.workers_.submit([&self, state, connection] {
            state->response = self.service_.handle(state->request);
            self.service_.end_request();
            const std::lock_guard lock(self.resume_mutex_);
            if (!self.abandoned_) MHD_resume_connection(connection);
        });
        return MHD_YES;
    }

    // Shuts down connections that took longer than the request timeout to send a request, or sat idle
    // that long: libmicrohttpd's own timeout counts only silence, which a byte a second defeats.
    void watchdog(const std::atomic<bool>& done) {
        const auto timeout = service_.options().request_timeout;
        while (!done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const auto now = Clock::now();
            const std::lock_guard lock(connections_mutex_);
            for (const auto& [key, c] : connections_) {
                if (!c->busy && c->fd >= 0 && now - c->idle_since > timeout) {
                    ::shutdown(c->fd, SHUT_RDWR);
                    c->idle_since = now;  // once per timeout, until libmicrohttpd closes it
                }
            }
        }
    }

    Service service_;
    Workers workers_;
    std::atomic<bool> stopping_{false};
    // Set when shutdown gives up on verifications past the deadline: the daemon is then left running
    // (the process is exiting) and their connections are never resumed.
    std::mutex resume_mutex_;
    bool abandoned_ = false;
    std::atomic<std::uint64_t> request_ids_{0};
    std::mutex connections_mutex_;
    std::map<ConnectionState*, std::unique_ptr<ConnectionState>> connections_;
};

// A listening socket bound here, so that port 0 can be reported and errors name the address.
int listen_on(const std::string& host, std::uint16_t port, std::uint16_t& bound_port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const auto service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        throw Error(Errc::io, fmt::format("cannot resolve listen address {}: {}", host, ::gai_strerror(rc)));
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
    const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
    if (fd < 0) throw Error(Errc::io, fmt::format("socket: {}", errno_message(errno)));
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error(Errc::io, fmt::format("cannot listen on {}:{}: {}", host, port, errno_message(err)));
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    bound_port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                  : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    return fd;
}

std::string read_text(const std::string& path) {
    const auto bytes = detail::read_file_bounded(path, kMaxTlsFile);
    return {bytes.begin(), bytes.end()};
}

std::size_t Server::run(const std::atomic<bool>& stop, std::atomic<bool>& reload) {
    const auto& options = service_.options();
    std::uint16_t port = 0;
    const int listener = listen_on(options.listen_host, options.listen_port, port);
    const bool tls = !options.tls_cert_file.empty();
    const std::string cert = tls ? read_text(options.tls_cert_file) : std::string();
    const std::string key = tls ? read_text(options.tls_key_file) : std::string();
    const auto timeout_seconds = static_cast<unsigned>(
        std::max<long long>(1, std::chrono::ceil<std::chrono::seconds>(options.request_timeout).count()));
    std::vector<MHD_OptionItem> items{
        {MHD_OPTION_LISTEN_SOCKET, listener, nullptr},
        // One over ours, so that libmicrohttpd keeps accepting at the limit and on_accept refuses.
        {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.max_connections + 1), nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(timeout_seconds), nullptr},
        {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Server::on_completed), this},
        {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Server::on_connection), this},
    };
    if (tls) {
        items.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(cert.c_str())});
        items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(key.c_str())});
    }
    items.push_back({MHD_OPTION_END, 0, nullptr});
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (tls) flags |= MHD_USE_TLS;
    auto* daemon = MHD_start_daemon(flags, 0, &Server::on_accept, this, &Server::on_request, this, MHD_OPTION_ARRAY,
                                    items.data(), MHD_OPTION_END);
    if (daemon == nullptr) {
        ::close(listener);
        throw Error(Errc::io, fmt::format("libmicrohttpd could not start on {}:{}{} (is libmicrohttpd12 installed?)",
                                          options.listen_host, port, tls ? " with the TLS certificate and key" : ""));
    }
    log(json{{"event", "listening"},
             {"host", options.listen_host},
             {"port", port},
             {"tls", tls},
             {"policies", service_.policy_names()}});
    if (options.on_listening) options.on_listening(options.listen_host, port);

    std::atomic<bool> done{false};
    std::thread watchdog([&] { this->watchdog(done); });
    while (!stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (reload.exchange(false)) {
            const auto failure = service_.reload_policies();
            log(failure ? json{{"event", "reload"}, {"ok", false}, {"error", *failure}}
                        : json{{"event", "reload"}, {"ok", true}, {"policies", service_.policy_names()}});
        }
    }
    // Stop accepting, let the requests in flight finish, then close everything.
    stopping_.store(true);
    const MHD_socket quiesced = MHD_quiesce_daemon(daemon);
    if (quiesced != MHD_INVALID_SOCKET) ::close(quiesced);
    const auto deadline = Clock::now() + options.shutdown_timeout;
    std::size_t busy = 0;
    do {
        {
            const std::lock_guard lock(connections_mutex_);
            busy = static_cast<std::size_t>(
                std::count_if(connections_.begin(), connections_.end(), [](const auto& c) { return c.second->busy; }));
        }
        if (busy == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (Clock::now() < deadline);
    if (busy == 0) {
        // stopping_ was set before the count, and on_request suspends nothing once it is: zero stays zero.
        MHD_stop_daemon(daemon);
        done.store(true);
        watchdog.join();
    } else {
        done.store(true);
        watchdog.join();
        // libmicrohttpd cannot stop with suspended connections; the verifications still running are
        // abandoned with their connections, and the daemon with them, as the process is about to end.
        const std::lock_guard lock(resume_mutex_);
        abandoned_ = true;
        workers_.abandon();
    }
    log(json{{"event", "stopped"}, {"unfinished", busy}});
    return busy;
}

}  // namespace

std::size_t run(const Options& options, const std::atomic<bool>& stop, std::atomic<bool>& reload) {
    auto server = std::make_unique<Server>(options);
    const auto unfinished = server->run(stop, reload);
    // Abandoned verifications still reference the server: it is left to the exiting process.
    if (server->abandoned()) (void)server.release();
    return unfinished;
}

}  // namespace tdxkit::serve
