#pragma once
// A minimal HTTP/1.1 client for tests of the server's HTTP port: one request
// per connection (Connection: close), every read under a deadline.

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace gamestore::testing {

struct HttpReply {
    int status = 0;                              // 0: no answer (refused, timed out, garbled)
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

HttpReply http_request(const std::string& host, unsigned short port, const std::string& method,
                       const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       const std::string& body = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

inline HttpReply http_get(const std::string& host, unsigned short port, const std::string& target,
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return http_request(host, port, "GET", target, headers);
}

}  // namespace gamestore::testing
