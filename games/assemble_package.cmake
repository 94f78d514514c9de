# Assembles one reference-game package directory (run with `cmake -P`).
#
#   cmake -DGAME_DIR=<games/connect_four> -DCOMMON_DIR=<games/common>
#         -DSDK_FILE=<sdk/python/gamestore_sdk.py> -DOUT_DIR=<packages/connect_four>
#         -DSTAGING_DIR=<scratch dir> -P assemble_package.cmake
#
# A package must be self-contained (the platform runs `python3 server.py`
# in the package root), so it gets the game's own top-level *.py and *.json
# files, the shared runtime (games/common/*.py) and the Python SDK. Nothing
# else: no tests, no __pycache__. The directory is built in STAGING_DIR and
# renamed into place, so OUT_DIR never holds a half-copied package (and a
# file deleted from the sources does not linger in it). STAGING_DIR must be
# on the same file system as OUT_DIR and outside the packages directory,
# whose every subdirectory is published.

foreach(var GAME_DIR COMMON_DIR SDK_FILE OUT_DIR STAGING_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "assemble_package.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${GAME_DIR}/manifest.json")
  message(FATAL_ERROR "assemble_package.cmake: ${GAME_DIR} has no manifest.json")
endif()
if(NOT EXISTS "${SDK_FILE}")
  message(FATAL_ERROR "assemble_package.cmake: the SDK ${SDK_FILE} does not exist")
endif()

get_filename_component(name "${OUT_DIR}" NAME)
set(stage "${STAGING_DIR}/${name}")

file(GLOB game_files LIST_DIRECTORIES false "${GAME_DIR}/*.py" "${GAME_DIR}/*.json")
file(GLOB common_files LIST_DIRECTORIES false "${COMMON_DIR}/*.py")

file(REMOVE_RECURSE "${stage}")
file(MAKE_DIRECTORY "${stage}")
file(COPY ${game_files} ${common_files} "${SDK_FILE}" DESTINATION "${stage}")

get_filename_component(out_parent "${OUT_DIR}" DIRECTORY)
file(MAKE_DIRECTORY "${out_parent}")
file(REMOVE_RECURSE "${OUT_DIR}")
file(RENAME "${stage}" "${OUT_DIR}")
