#pragma once
// The server's HTTP port (docs/OPERATIONS.md): GET /metrics, /livez, /readyz
// and the /admin dashboard. HTTP/1.1 by Boost.Beast, on the server's I/O
// thread like the lobby, with the lobby's limits: at most max_connections
// open (one more is answered 503 and closed), a request must arrive whole
// within request_deadline, and a keep-alive connection idle that long is
// closed. Beast stays inside http_endpoint.cpp; handlers see plain structs.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "platform/asio/asio.hpp"
#include "platform/net/channel.hpp"

namespace gamestore::server {

struct HttpRequest {
    std::string method;                          // "GET", "POST", ...
    std::string target;                          // path and query as sent
    std::string path;                            // target without the query
    std::string query;                           // after '?', undecoded
    std::string peer;                            // "host:port" of the client
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    // The header's value, or "" when absent.
    std::string header(const std::string& lower_case_name) const;
};

struct HttpResponse {
    // Writes one chunk of a streamed body; false once the client is gone.
    using Send = std::function<boost::asio::awaitable<bool>(const std::string&)>;

    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // When set, the response is a stream (server-sent events): the headers
    // go out, then this runs and writes the body with Send until it
    // returns; the connection closes after it.
    std::function<boost::asio::awaitable<void>(const Send&)> stream;
};

// A whole response with one body: plain text, or JSON text.
HttpResponse plain_response(int status, std::string body);
HttpResponse json_text_response(int status, std::string json_text);

struct HttpEndpointConfig {
    net::HostPort listen{"127.0.0.1", 16536};
    std::size_t max_connections = 4096;
    std::chrono::milliseconds request_deadline{10'000};
    std::size_t max_body_bytes = 64 * 1024;
};

class HttpEndpoint {
  public:
    using Handler = std::function<boost::asio::awaitable<HttpResponse>(const HttpRequest&)>;

    HttpEndpoint(boost::asio::io_context& io, HttpEndpointConfig config, Handler handler);
    ~HttpEndpoint();

    // Binds; throws with a sentence if the address is taken.
    void listen();
    void start();
    // Stops accepting and closes every connection (streams included).
    void stop();

    bool listening() const { return acceptor_.is_open(); }
    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    std::size_t open_connections() const { return open_.size(); }
    std::uint64_t turned_away() const { return turned_away_; }

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, std::uint64_t id);

    boost::asio::io_context& io_;
    HttpEndpointConfig config_;
    Handler handler_;
    boost::asio::ip::tcp::acceptor acceptor_;
    bool stopping_ = false;
    std::uint64_t next_id_ = 1;
    std::uint64_t turned_away_ = 0;
    // The sockets of open connections, to close them on stop().
    std::map<std::uint64_t, std::shared_ptr<boost::asio::ip::tcp::socket>> open_;
};

}  // namespace gamestore::server
