#include "platform/launch/healthcheck_hosts.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace gamestore::launch {

bool is_unspecified_address(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    const std::string text(host);
    in_addr v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        return v4.s_addr == INADDR_ANY;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        return std::memcmp(&v6, &in6addr_any, sizeof v6) == 0;
    }
    return false;  // a host name: connectable as far as we can tell
}

HealthcheckHosts healthcheck_hosts(const std::optional<std::string>& declared_host,
                                   std::string_view advertised_host) {
    HealthcheckHosts hosts;
    auto add = [&](std::string_view host) {
        if (host.empty()) {
            return false;
        }
        std::string name(host);
        if (is_unspecified_address(name)) {
            if (std::find(hosts.skipped.begin(), hosts.skipped.end(), name) == hosts.skipped.end()) {
                hosts.skipped.push_back(std::move(name));
            }
            return false;
        }
        if (std::find(hosts.connect.begin(), hosts.connect.end(), name) == hosts.connect.end()) {
            hosts.connect.push_back(std::move(name));
        }
        return true;
    };
    add("127.0.0.1");
    // The manifest's own host replaces the advertised one, unless it names
    // a bind-only address: then the advertised host is the fallback.
    if (!declared_host || !add(*declared_host)) {
        add(advertised_host);
    }
    return hosts;
}

}  // namespace gamestore::launch
