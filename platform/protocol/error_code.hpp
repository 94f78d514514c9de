#pragma once
// The closed set of lobby error codes (docs/PROTOCOL.md "Error codes").
// Clients switch on these, so a new value is a protocol change: add it here,
// to the wire-name table in error_code.cpp and to docs/PROTOCOL.md together.

#include <optional>
#include <string_view>

namespace gamestore::protocol {

enum class ErrorCode {
    // The line is not a well-formed request: bad JSON, not an object, missing
    // or mistyped "id"/"op", or arguments of the wrong type or out of range.
    BadRequest,
    // "op" names no operation this server knows (e.g. an older server).
    UnknownOp,
    // The operation needs a logged-in session and there is none (not logged
    // in yet, wrong password, expired or revoked session token).
    Unauthenticated,
    // Logged in, but this account may not do this (not the game's owner, a
    // player calling a developer operation, not the room's host).
    Forbidden,
    // The named game, version, room, review or account does not exist.
    NotFound,
    // The request contradicts current state: name taken, version already
    // published, room full or already started, not all players ready.
    Conflict,
    // An uploaded package failed validation (manifest, semver, zip safety,
    // checksum); "details" carries the machine-readable reasons.
    InvalidPackage,
    // A line, blob, upload or field exceeded its size limit.
    TooLarge,
    // The connection sent requests faster than its rate limit allows.
    RateLimited,
    // A deadline passed: authentication not completed within 10 s, or an
    // operation (such as waiting for a game server) took too long.
    Timeout,
    // The server cannot serve this now (shutting down, no free game port,
    // storage temporarily unavailable); retrying later may succeed.
    Unavailable,
    // A bug or unexpected failure on the server; the message says what failed
    // and the server log has the details.
    Internal,
    // A cluster node was asked about a room that lives on another node;
    // "details" {node_id, address, room_id} say where to ask instead.
    Moved,
};

// The wire name, e.g. "NOT_FOUND".
std::string_view to_string(ErrorCode code);

// Inverse of to_string (exact, case-sensitive match); nullopt for unknown text.
std::optional<ErrorCode> error_code_from_string(std::string_view text);

}  // namespace gamestore::protocol
