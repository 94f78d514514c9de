# cmake -DPROFILES=profiles.json -DFAKEGAME=/path/to/fakegame -DOUT_DIR=dir -P generate_packages.cmake
#
# Writes one package directory per fault profile:
#   OUT_DIR/<name>/manifest.json   manifest v2 running bin/fakegame with the profile's flags
#   OUT_DIR/<name>/bin/fakegame    a copy of the binary
#   OUT_DIR/<name>/profile.json    the profile's row (flags and description; the validator's
#                                  expected verdicts live in validator/expectations.tsv)
# plus OUT_DIR/profiles.json (the table) and OUT_DIR/packages.stamp.
cmake_minimum_required(VERSION 3.25)

foreach(var PROFILES FAKEGAME OUT_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "generate_packages.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${PROFILES}" table)
string(JSON count LENGTH "${table}" profiles)
if(count EQUAL 0)
  message(FATAL_ERROR "${PROFILES}: no profiles")
endif()
math(EXPR last "${count} - 1")

file(MAKE_DIRECTORY "${OUT_DIR}")
set(names "")
foreach(i RANGE ${last})
  string(JSON row GET "${table}" profiles ${i})
  set(fields name server_args client_args min_players description)
  foreach(field ${fields})
    string(JSON ${field} GET "${row}" ${field})
  endforeach()
  # One optional key: sandbox_only (a boolean) marks a profile that must only
  # ever run sandboxed (the validator matrix and the sim skip it).
  set(optional_fields sandbox_only)
  string(JSON sandbox_only ERROR_VARIABLE no_sandbox_only TYPE "${row}" sandbox_only)
  if(NOT no_sandbox_only AND NOT sandbox_only STREQUAL "BOOLEAN")
    message(FATAL_ERROR "${PROFILES}: profile '${name}': sandbox_only must be true or false")
  endif()
  # No other keys: what the validator must report for a profile lives only in
  # validator/expectations.tsv, so no second, drifting copy can creep back in.
  string(JSON keys LENGTH "${row}")
  math(EXPR last_key "${keys} - 1")
  foreach(k RANGE ${last_key})
    string(JSON key MEMBER "${row}" ${k})
    if(NOT key IN_LIST fields AND NOT key IN_LIST optional_fields)
      list(JOIN fields ", " allowed)
      string(APPEND allowed ", optional: sandbox_only")
      message(FATAL_ERROR "${PROFILES}: profile '${name}' has the unknown key '${key}' (allowed: ${allowed}; "
                          "expected validator verdicts belong in validator/expectations.tsv)")
    endif()
  endforeach()
  if(NOT name MATCHES "^[a-z0-9][a-z0-9-]*$")
    message(FATAL_ERROR "${PROFILES}: profile name '${name}' must be lowercase letters, digits and '-'")
  endif()
  if(name IN_LIST names)
    message(FATAL_ERROR "${PROFILES}: profile '${name}' is listed twice")
  endif()
  list(APPEND names ${name})
  # Commands are split with shell-like quoting by the platform; keep the
  # flags plain so no quoting is ever needed, and never let a token in.
  foreach(args server_args client_args)
    if("${${args}}" MATCHES "[\"'\\\\;{}]")
      message(FATAL_ERROR "${PROFILES}: ${name}.${args} must not contain quotes, backslashes, ';' or placeholders")
    endif()
    if("${${args}}" MATCHES "token")
      if(NOT "${${args}}" MATCHES "^(--wrong-report-token|--accept-wrong-token|--wrong-token|--token-in-argv)$")
        message(FATAL_ERROR "${PROFILES}: ${name}.${args} looks like it carries a token")
      endif()
    endif()
  endforeach()

  set(server_command "bin/fakegame server")
  if(NOT server_args STREQUAL "")
    string(APPEND server_command " ${server_args}")
  endif()
  set(client_command "bin/fakegame client")
  if(NOT client_args STREQUAL "")
    string(APPEND client_command " ${client_args}")
  endif()

  set(manifest "{}")
  string(JSON manifest SET "${manifest}" game_name "\"fakegame-${name}\"")
  string(JSON manifest SET "${manifest}" version "\"1.0.0\"")
  string(JSON manifest SET "${manifest}" type "\"CLI\"")
  string(JSON manifest SET "${manifest}" description "\"fakegame fault profile '${name}'\"")
  string(JSON manifest SET "${manifest}" min_players ${min_players})
  string(JSON manifest SET "${manifest}" max_players 8)
  string(JSON manifest SET "${manifest}" protocol_version 1)
  string(JSON manifest SET "${manifest}" server "{}")
  string(JSON manifest SET "${manifest}" server command "\"${server_command}\"")
  string(JSON manifest SET "${manifest}" server heartbeat_interval_sec 1)
  string(JSON manifest SET "${manifest}" client "{}")
  string(JSON manifest SET "${manifest}" client command "\"${client_command}\"")
  string(JSON manifest SET "${manifest}" healthcheck "{}")
  string(JSON manifest SET "${manifest}" healthcheck tcp_port "\"{port}\"")
  string(JSON manifest SET "${manifest}" healthcheck timeout_sec 5)

  set(dir "${OUT_DIR}/${name}")
  file(MAKE_DIRECTORY "${dir}/bin")
  file(WRITE "${dir}/manifest.json.tmp" "${manifest}\n")
  file(COPY_FILE "${dir}/manifest.json.tmp" "${dir}/manifest.json" ONLY_IF_DIFFERENT)
  file(REMOVE "${dir}/manifest.json.tmp")
  file(WRITE "${dir}/profile.json.tmp" "${row}\n")
  file(COPY_FILE "${dir}/profile.json.tmp" "${dir}/profile.json" ONLY_IF_DIFFERENT)
  file(REMOVE "${dir}/profile.json.tmp")
  # A hard link, not a copy: 27 copies of a debug build would take hundreds
  # of MB. It reads as an ordinary file to everything that packs or runs it.
  # Relinked each time because the linker writes a new inode on rebuild.
  file(REMOVE "${dir}/bin/fakegame")
  file(CREATE_LINK "${FAKEGAME}" "${dir}/bin/fakegame" COPY_ON_ERROR)
endforeach()

# Profiles removed from the table must not linger as packages.
file(GLOB entries LIST_DIRECTORIES true RELATIVE "${OUT_DIR}" "${OUT_DIR}/*")
foreach(entry ${entries})
  if(IS_DIRECTORY "${OUT_DIR}/${entry}" AND NOT entry IN_LIST names)
    file(REMOVE_RECURSE "${OUT_DIR}/${entry}")
  endif()
endforeach()

file(COPY_FILE "${PROFILES}" "${OUT_DIR}/profiles.json" ONLY_IF_DIFFERENT)
file(TOUCH "${OUT_DIR}/packages.stamp")
