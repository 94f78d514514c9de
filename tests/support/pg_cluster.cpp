#include "tests/support/pg_cluster.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

namespace gamestore::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path kBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kSuperuser = "gamestore";

std::string log_tail(const fs::path& log) {
    std::error_code ec;
    if (!fs::exists(log, ec))
        return "(no log)";
    const std::string text = read_file(log);
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

}  // namespace

bool PgCluster::available() {
    std::error_code ec;
    return fs::exists(kBinDir / "postgres", ec) && fs::exists(kBinDir / "initdb", ec);
}

PgCluster& PgCluster::shared() {
    static PgCluster cluster;
    return cluster;
}

PgCluster::PgCluster() : dir_("gamestore-pg") {
    if (!available())
        throw std::runtime_error("PostgreSQL 15 is not installed (ci/bootstrap installs it)");
    if (::geteuid() == 0) {
        const char* wanted = std::getenv("GAMESTORE_PG_USER");
        const passwd* pw = nullptr;
        for (const char* name : {wanted, "gamestore-ci", "nobody"}) {
            if (name != nullptr && (pw = ::getpwnam(name)) != nullptr)
                break;
        }
        if (pw == nullptr)
            throw std::runtime_error("no unprivileged user to run PostgreSQL as");
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        drop_privileges_ = true;
        if (::chown(dir_.path().c_str(), uid_, gid_) != 0)
            throw std::runtime_error("cannot hand " + dir_.path().string() +
                                     " to the cluster's user");
    }
    fs::permissions(dir_.path(), fs::perms::owner_all, fs::perm_options::replace);

    SpawnOptions init;
    init.argv = {(kBinDir / "initdb").string(), "-D", (dir_.path() / "data").string(), "-U",
                 kSuperuser, "-A", "trust", "-E", "UTF8", "--locale=C",
                 // A throwaway cluster: nothing to fsync for.
                 "--no-sync", "--no-instructions"};
    init.cwd = dir_.path();
    init.stdout_file = dir_.path() / "initdb.log";
    init.stderr_file = dir_.path() / "initdb.log";
    if (drop_privileges_)
        init.run_as = std::make_pair(uid_, gid_);
    ChildProcess initdb(init);
    const auto code = initdb.wait_exit_code(180s);
    if (code != 0) {
        throw std::runtime_error("initdb failed: " + log_tail(dir_.path() / "initdb.log"));
    }
    start();
}

PgCluster::~PgCluster() {
    try {
        stop();
    } catch (...) {
        // The ChildProcess destructor SIGKILLs what is left.
    }
}

void PgCluster::start() {
    const fs::path data = dir_.path() / "data";
    std::error_code ec;
    fs::remove(data / "postmaster.pid", ec);
    SpawnOptions options;
    // postgres itself rather than pg_ctl, which starts it through /bin/sh.
    // fsync=off: the tests kill gamestore servers, never this PostgreSQL, so
    // what they check (a committed write is there after the restart) does
    // not depend on PostgreSQL's own flushes; production keeps fsync on.
    options.argv = {(kBinDir / "postgres").string(),
                    "-D",
                    data.string(),
                    "-k",
                    dir_.path().string(),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=32MB"};
    options.cwd = dir_.path();
    options.stdout_file = dir_.path() / "postgres.log";
    options.stderr_file = dir_.path() / "postgres.log";
    // A crashed test binary takes its cluster with it (immediate shutdown).
    options.parent_death_signal = SIGQUIT;
    if (drop_privileges_)
        options.run_as = std::make_pair(uid_, gid_);
    server_ = std::make_unique<ChildProcess>(options);
    // The postmaster writes "ready" into its pid file once it accepts connections.
    if (!wait_for_text(data / "postmaster.pid", "ready", 120s) || !server_->running()) {
        const std::string log = log_tail(dir_.path() / "postgres.log");
        server_.reset();
        throw std::runtime_error("PostgreSQL did not start: " + log);
    }
}

void PgCluster::stop() {
    if (!server_)
        return;
    server_->signal(SIGINT);  // fast shutdown: rolls back open transactions
    if (!server_->wait(120s))
        server_->signal(SIGKILL);
    server_.reset();
}

void PgCluster::restart() {
    stop();
    start();
}

std::string PgCluster::uri(const std::string& database) const {
    return "postgresql:///" + database + "?host=" + dir_.path().string() + "&user=" + kSuperuser;
}

void PgCluster::admin(const std::string& sql, const std::string& database_uri) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(
        PQconnectdb(database_uri.empty() ? uri("postgres").c_str() : database_uri.c_str()),
        &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw std::runtime_error(std::string("cannot connect to the test cluster: ") +
                                 PQerrorMessage(conn.get()));
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    const auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        throw std::runtime_error("test cluster: " + sql + ": " + PQerrorMessage(conn.get()));
}

std::string PgCluster::query(const std::string& sql, const std::string& database_uri) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(database_uri.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw std::runtime_error(std::string("cannot connect to the test cluster: ") +
                                 PQerrorMessage(conn.get()));
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
        throw std::runtime_error("test cluster: " + sql + ": " + PQerrorMessage(conn.get()));
    if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0)
        return {};
    return PQgetvalue(result.get(), 0, 0);
}

std::string PgCluster::create_database() {
    const std::string name = "test_" + std::to_string(++next_database_);
    admin("CREATE DATABASE " + name + " TEMPLATE template0");
    return uri(name);
}

std::string PgCluster::create_schema() {
    if (next_schema_ == 0)
        admin("CREATE DATABASE tests TEMPLATE template0");
    const std::string name = "test_" + std::to_string(++next_schema_);
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(uri("tests").c_str()), &PQfinish);
    std::unique_ptr<PGresult, decltype(&PQclear)> result(
        PQexec(conn.get(), ("CREATE SCHEMA " + name).c_str()), &PQclear);
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK)
        throw std::runtime_error("test cluster: CREATE SCHEMA: " +
                                 std::string(PQerrorMessage(conn.get())));
    // options=-c search_path=NAME, URI-encoded.
    return uri("tests") + "&options=-csearch_path%3D" + name;
}

}  // namespace gamestore::testing
