#include "tests/support/http_get.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "tests/support/raw_connection.hpp"

namespace gamestore::testing {

HttpReply http_request(const std::string& host, unsigned short port, const std::string& method,
                       const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body, std::chrono::milliseconds timeout) {
    HttpReply reply;
    RawConnection connection(host, port);
    std::string request =
        method + " " + target + " HTTP/1.1\r\nHost: " + host +
        "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& [name, value] : headers) {
        request += name + ": " + value + "\r\n";
    }
    request += "\r\n" + body;
    if (!connection.send(request)) {
        return reply;
    }
    // Lines until the server closes; the body is what follows the blank line.
    std::vector<std::string> lines;
    for (int i = 0; i < 1'000'000; ++i) {
        auto line = connection.read_line(timeout);
        if (!line) {
            break;
        }
        lines.push_back(std::move(*line));
    }
    if (lines.empty() || lines[0].rfind("HTTP/1.1 ", 0) != 0) {
        return reply;
    }
    reply.status = std::stoi(lines[0].substr(9, 3));
    std::size_t i = 1;
    for (; i < lines.size() && lines[i] != "\r" && !lines[i].empty(); ++i) {
        const auto colon = lines[i].find(':');
        if (colon == std::string::npos) {
            continue;
        }
        std::string name = lines[i].substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = lines[i].substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        if (!value.empty() && value.back() == '\r') {
            value.pop_back();
        }
        reply.headers[name] = value;
    }
    for (++i; i < lines.size(); ++i) {
        reply.body += lines[i] + "\n";
    }
    return reply;
}

}  // namespace gamestore::testing
