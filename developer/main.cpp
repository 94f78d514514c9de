// gamestore-dev: the game developer's tool (docs/CLI.md): scaffold,
// check and publish packages, manage versions and listing. Subcommands for
// scripts; the numbered menus when run without one.

#include <iostream>

#include <CLI/CLI.hpp>

#include "developer/dev_commands.hpp"
#include "developer/dev_menu.hpp"
#include "developer/scaffold.hpp"
#include "developer/validate_command.hpp"
#include "platform/cli/account.hpp"
#include "platform/cli/cli_common.hpp"
#include "platform/cli/console.hpp"
#include "platform/cli/tool_session.hpp"

using namespace gamestore::cli;
using namespace gamestore::cli::developer;

int main(int argc, char** argv) {
    set_program_name("gamestore-dev");
    CLI::App app{
        "gamestore-dev: create, check and publish game packages; manage their versions.\n"
        "Without a command it shows numbered menus."};
    app.fallthrough();  // --server/--user/--home may follow the command too
    CommonOptions options;
    add_common_options(app, options);
    app.require_subcommand(0, 1);

    const auto account = add_account_commands(app);

    std::string dir;
    std::string init_name;
    std::string init_template = "python";
    auto* init = app.add_subcommand(
        "init", "write a new, publishable game package (Python or C++ SDK example)");
    init->add_option("DIR", dir, "directory to create (must not exist or be empty)")->required();
    init->add_option("--name", init_name, "game name (default: the directory's name)");
    init->add_option("--template", init_template,
                     "python: server.py/client.py on the Python SDK (standard library only); "
                     "cpp: src/server.cpp/src/client.cpp on the header-only C++ SDK (build bin/ "
                     "before publishing)")
        ->check(CLI::IsMember({"python", "cpp"}))
        ->capture_default_str();

    ValidateCommand validate_command;
    auto* validate = add_validate_command(app, validate_command);

    std::string package;
    PublishOptions publish_options;
    auto* publish =
        app.add_subcommand("publish", "check a package locally, then upload it as a new version");
    publish->add_option("PACKAGE", package, "package directory or zip file")->required();
    publish->add_option("--notes", publish_options.notes, "release notes shown in the store");
    publish->add_flag("--hidden", publish_options.hidden, "publish without making it live");
    publish->add_flag("--json", options.json, "print the server's answer as JSON");

    auto* games = app.add_subcommand("games", "your games (delisted ones included)");
    games->add_flag("--json", options.json, "print JSON");

    std::string game;
    auto* versions =
        app.add_subcommand("versions", "every version of one of your games (hidden ones included)");
    versions->add_option("GAME", game, "game name")->required();
    versions->add_flag("--json", options.json, "print JSON");

    std::string version;
    auto* set_live = app.add_subcommand(
        "set-live", "make VERSION the one players install (update or roll back)");
    set_live->add_option("GAME", game, "game name")->required();
    set_live->add_option("VERSION", version, "a published version")->required();

    auto* delist =
        app.add_subcommand("delist", "hide a game from the store (running matches finish)");
    delist->add_option("GAME", game, "game name")->required();
    auto* relist = app.add_subcommand("relist", "show a delisted game in the store again");
    relist->add_option("GAME", game, "game name")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitUsage;
    }

    return run_reporting_failures([&]() -> int {
        Console console;
        if (*init) {
            return init_package(dir, init_name, *parse_scaffold_template(init_template));
        }
        if (*validate) {
            return run_validate_command(validate_command);
        }
        if (*account.account) {
            return run_account_command(account, options, Role::Developer, console);
        }
        ToolSession session(options, Role::Developer, console,
                            /*interactive=*/app.get_subcommands().empty());
        if (*publish) {
            return publish_package(session, package, publish_options);
        }
        if (*games) {
            return list_my_games(session, options.json);
        }
        if (*versions) {
            return list_versions(session, game, options.json);
        }
        if (*set_live) {
            return set_live_version(session, game, version);
        }
        if (*delist) {
            return delist_game(session, game);
        }
        if (*relist) {
            return relist_game(session, game);
        }
        return run_dev_menu(session);
    });
}
