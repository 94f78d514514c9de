#include "platform/server/http_endpoint.hpp"

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "platform/server/accept_loop.hpp"

namespace gamestore::server {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

// Keep-alive is for a scraper or a dashboard's few requests, not a tunnel.
constexpr int kMaxRequestsPerConnection = 1000;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// Closes the socket when it fires; re-arming cancels the previous wait.
class Deadline {
  public:
    Deadline(asio::io_context& io, std::shared_ptr<tcp::socket> socket)
        : timer_(std::make_shared<asio::steady_timer>(io)), socket_(std::move(socket)) {}
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

    void arm(std::chrono::milliseconds after) {
        timer_->expires_after(after);
        timer_->async_wait([socket = socket_](const boost::system::error_code& ec) {
            if (!ec) {
                boost::system::error_code ignored;
                socket->close(ignored);
            }
        });
    }
    void disarm() { timer_->cancel(); }

  private:
    std::shared_ptr<asio::steady_timer> timer_;
    std::shared_ptr<tcp::socket> socket_;
};

HttpRequest to_request(const http::request<http::string_body>& message, std::string peer) {
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const auto question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) {
        request.query = request.target.substr(question + 1);
    }
    request.peer = std::move(peer);
    for (const auto& field : message) {
        request.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    }
    request.body = message.body();
    return request;
}

}  // namespace

HttpResponse plain_response(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

HttpResponse json_text_response(int status, std::string json_text) {
    HttpResponse response;
    response.status = status;
    response.content_type = "application/json";
    response.body = std::move(json_text);
    return response;
}

std::string HttpRequest::header(const std::string& lower_case_name) const {
    const auto found = headers.find(lower_case_name);
    return found == headers.end() ? std::string() : found->second;
}

HttpEndpoint::HttpEndpoint(asio::io_context& io, HttpEndpointConfig config, Handler handler)
    : io_(io), config_(std::move(config)), handler_(std::move(handler)), acceptor_(io) {}

HttpEndpoint::~HttpEndpoint() = default;

void HttpEndpoint::listen() {
    net::open_listener(acceptor_, config_.listen, "--http-listen");
}

void HttpEndpoint::start() {
    asio::co_spawn(io_, accept_loop(), asio::detached);
}

void HttpEndpoint::stop() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (const auto& [id, socket] : open_) {
        socket->close(ec);
    }
}

asio::awaitable<void> HttpEndpoint::accept_loop() {
    // Named, not a temporary of the co_await (GCC 12: docs/ARCHITECTURE.md).
    std::function<void(tcp::socket)> serve_connection = [this](tcp::socket socket) {
        asio::co_spawn(io_, serve(std::move(socket), next_id_++), asio::detached);
    };
    co_await accept_connections(acceptor_, stopping_, "http", std::move(serve_connection));
}

asio::awaitable<void> HttpEndpoint::serve(tcp::socket accepted, std::uint64_t id) {
    auto socket = std::make_shared<tcp::socket>(std::move(accepted));
    boost::system::error_code ec;
    Deadline deadline(io_, socket);
    deadline.arm(config_.request_deadline);
    if (open_.size() >= config_.max_connections) {
        ++turned_away_;
        if (turned_away_ == 1 || turned_away_ % 100 == 0) {
            spdlog::warn("http: {} connections open (--max-connections); turned away {} so far",
                         open_.size(), turned_away_);
        }
        static const std::string busy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        co_await asio::async_write(*socket, asio::buffer(busy),
                                   asio::redirect_error(asio::use_awaitable, ec));
        deadline.disarm();
        socket->close(ec);
        co_return;
    }
    open_[id] = socket;
    const auto remote = socket->remote_endpoint(ec);
    const std::string peer =
        ec ? std::string("?")
           : net::HostPort{remote.address().to_string(), remote.port()}.to_string();

    boost::beast::flat_buffer buffer;
    for (int served = 0; served < kMaxRequestsPerConnection && !stopping_; ++served) {
        deadline.arm(config_.request_deadline);
        http::request_parser<http::string_body> parser;
        parser.header_limit(kMaxHeaderBytes);
        parser.body_limit(config_.max_body_bytes);
        co_await http::async_read(*socket, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (ec == http::error::body_limit || ec == http::error::header_limit) {
                http::response<http::string_body> too_large{http::status::payload_too_large, 11};
                too_large.keep_alive(false);
                too_large.prepare_payload();
                co_await http::async_write(*socket, too_large,
                                           asio::redirect_error(asio::use_awaitable, ec));
            }
            break;
        }
        const auto& message = parser.get();
        const bool keep_alive = message.keep_alive();
        const auto version = message.version();
        HttpResponse answer;
        // Named, not a temporary of the co_await (GCC 12: docs/ARCHITECTURE.md).
        const HttpRequest request = to_request(message, peer);
        try {
            answer = co_await handler_(request);
        } catch (const std::exception& e) {
            spdlog::error("http: {} {} failed: {}", std::string(message.method_string()),
                          std::string(message.target()), e.what());
            answer = plain_response(500, "internal error; the server log says more\n");
        }
        if (stopping_) {
            break;
        }
        if (answer.stream) {
            http::response<http::empty_body> head{static_cast<http::status>(answer.status),
                                                  version};
            head.set(http::field::content_type, answer.content_type);
            head.set(http::field::cache_control, "no-store");
            for (const auto& [name, value] : answer.headers) {
                head.set(name, value);
            }
            head.keep_alive(false);
            http::response_serializer<http::empty_body> serializer{head};
            co_await http::async_write_header(*socket, serializer,
                                              asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                break;
            }
            deadline.disarm();
            // Every chunk must leave within the request deadline: a reader
            // that stops reading is closed, not buffered for.
            HttpResponse::Send send =
                [this, socket, &deadline](const std::string& chunk) -> asio::awaitable<bool> {
                if (stopping_ || !socket->is_open()) {
                    co_return false;
                }
                boost::system::error_code write_ec;
                deadline.arm(config_.request_deadline);
                co_await asio::async_write(*socket, asio::buffer(chunk),
                                           asio::redirect_error(asio::use_awaitable, write_ec));
                deadline.disarm();
                co_return !write_ec;
            };
            co_await answer.stream(send);
            break;
        }
        http::response<http::string_body> reply{static_cast<http::status>(answer.status), version};
        reply.set(http::field::content_type, answer.content_type);
        reply.set(http::field::cache_control, "no-store");
        for (const auto& [name, value] : answer.headers) {
            reply.set(name, value);
        }
        reply.body() = std::move(answer.body);
        reply.keep_alive(keep_alive);
        reply.prepare_payload();
        co_await http::async_write(*socket, reply, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !keep_alive) {
            break;
        }
    }
    deadline.disarm();
    socket->shutdown(tcp::socket::shutdown_both, ec);
    socket->close(ec);
    open_.erase(id);
}

}  // namespace gamestore::server
