#pragma once
// The checks of validate_game_package, in report order. The names are stable
// identifiers: tests, CI scripts and validator/expectations.tsv refer to them.

#include <span>
#include <string_view>

namespace gamestore::validator::checks {

// Static: the package as files.
inline constexpr std::string_view kZipSafety = "zip_safety";
inline constexpr std::string_view kPackageSize = "package_size";
inline constexpr std::string_view kManifestSchema = "manifest_schema";
inline constexpr std::string_view kManifestSemver = "manifest_semver";
inline constexpr std::string_view kManifestPlayers = "manifest_players";
inline constexpr std::string_view kManifestPlaceholders = "manifest_placeholders";
inline constexpr std::string_view kManifestWarnings = "manifest_warnings";
inline constexpr std::string_view kNoTokensInCommands = "no_tokens_in_commands";
inline constexpr std::string_view kReferencedFiles = "referenced_files";

// Dynamic: the game server launched as the platform launches it.
inline constexpr std::string_view kStartedWithinTimeout = "started_within_timeout";
inline constexpr std::string_view kServerBindsPort = "server_binds_port";
inline constexpr std::string_view kStartedFields = "started_fields";
inline constexpr std::string_view kStartedPortEcho = "started_port_echo";
inline constexpr std::string_view kHandshakeReadyAtStarted = "handshake_ready_at_started";
inline constexpr std::string_view kHandshakeRejectsBadToken = "handshake_rejects_bad_token";
inline constexpr std::string_view kHandshakeRejectsStaleMatch = "handshake_rejects_stale_match";
inline constexpr std::string_view kHandshakeAcceptsValidClient = "handshake_accepts_valid_client";
inline constexpr std::string_view kHeartbeatCadence = "heartbeat_cadence";
inline constexpr std::string_view kClientHandshake = "client_handshake";
inline constexpr std::string_view kMatchPlaysToEnd = "match_plays_to_end";
inline constexpr std::string_view kEndResultsSchema = "end_results_schema";
inline constexpr std::string_view kSingleTerminalReport = "single_terminal_report";
inline constexpr std::string_view kReportsAuthenticated = "reports_authenticated";
inline constexpr std::string_view kControlPlaneHygiene = "control_plane_hygiene";
inline constexpr std::string_view kNoTokensInArgv = "no_tokens_in_argv";
inline constexpr std::string_view kSigtermStopsGroup = "sigterm_stops_group";
inline constexpr std::string_view kNothingLeftRunning = "nothing_left_running";

inline constexpr std::string_view kStaticChecks[] = {
    kZipSafety,           kPackageSize,         kManifestSchema,
    kManifestSemver,      kManifestPlayers,     kManifestPlaceholders,
    kManifestWarnings,    kNoTokensInCommands,  kReferencedFiles,
};

inline constexpr std::string_view kDynamicChecks[] = {
    kStartedWithinTimeout,        kServerBindsPort,
    kStartedFields,               kStartedPortEcho,
    kHandshakeReadyAtStarted,     kHandshakeRejectsBadToken,
    kHandshakeRejectsStaleMatch,  kHandshakeAcceptsValidClient,
    kHeartbeatCadence,            kClientHandshake,
    kMatchPlaysToEnd,             kEndResultsSchema,
    kSingleTerminalReport,        kReportsAuthenticated,
    kControlPlaneHygiene,         kNoTokensInArgv,
    kSigtermStopsGroup,           kNothingLeftRunning,
};

}  // namespace gamestore::validator::checks
