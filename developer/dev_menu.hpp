#pragma once
// gamestore-dev without a command: numbered menus (docs/CLI.md).

namespace gamestore::cli {
class ToolSession;
}  // namespace gamestore::cli

namespace gamestore::cli::developer {

// Signs in (offering to create the account first when nothing is saved),
// then runs the main menu until Quit, sign-out or end of input.
int run_dev_menu(ToolSession& session);

}  // namespace gamestore::cli::developer
