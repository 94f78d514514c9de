// Minimal gamestore game client for minimal_server: handshake, send a number
// (argv[1], else a random one), print the results line.
#include <iostream>
#include <random>
#include <string>

#include "gamestore/sdk.hpp"

namespace sdk = gamestore::sdk;
using namespace std::chrono_literals;

int main(int argc, char** argv) try {
    const auto ctx = sdk::ClientContext::from_env();  // ROOM_ID, MATCH_ID, HOST, PORT, ...
    auto session = sdk::connect_and_handshake(ctx, 10s);
    if (!session.response.ok) {
        std::cerr << "minimal_client: the server refused us: " << session.response.reason << '\n';
        return 1;
    }
    const int number = argc > 1 ? std::stoi(argv[1]) : std::random_device{}() % 100;
    session.connection.send_line(nlohmann::json{{"number", number}}.dump());
    auto reply = session.connection.read_line(60s);
    if (!reply) {
        std::cerr << "minimal_client: no results from the server (" << sdk::to_string(reply.status)
                  << ")\n";
        return 1;
    }
    std::cout << reply.line << '\n';
    return 0;
} catch (const std::exception& e) {
    std::cerr << "minimal_client: " << e.what() << '\n';
    return 1;
}
