#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;

// Writers and readers on several threads at once, as the server's pool does.
// Asserts only outcomes (every call succeeds, every row is there), no timing.
TEST_CASE_METHOD(StoreFixture, "the store is safe to call from several threads",
                 "[store][threads]") {
    const auto dev = developer("dev");
    const auto published = publish(dev.id, "Shared", "1.0.0");
    constexpr int kThreads = 4;
    constexpr int kPerThread = 25;
    std::atomic<int> failures{0};
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const auto fail = [&](const StoreError& e) {
                ++failures;
                errors[static_cast<std::size_t>(t)] = e.message;
            };
            for (int i = 0; i < kPerThread; ++i) {
                const std::string name = "p" + std::to_string(t) + "x" + std::to_string(i);
                auto account = store->create_account(Role::Player, name, "password123", kT0);
                if (!account) {
                    fail(account.error());
                    continue;
                }
                auto session = store->create_session(account->id, kT0);
                if (!session)
                    fail(session.error());
                auto played = store->record_play(account->id, published.game.id,
                                                 published.version.id, kT0 + i);
                if (!played)
                    fail(played.error());
                auto review =
                    store->upsert_review(account->id, published.game.id, 1 + i % 5, "ok", kT0 + i);
                if (!review)
                    fail(review.error());
                auto listed = store->list_games();
                if (!listed)
                    fail(listed.error());
                auto login = store->verify_login(Role::Player, name, "password123");
                if (!login)
                    fail(login.error());
                if (session) {
                    auto resumed = store->resume_session(session->token, kT0 + 1);
                    if (!resumed)
                        fail(resumed.error());
                }
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    std::string all_errors;
    for (const auto& e : errors)
        all_errors += e + "\n";
    INFO(all_errors);
    CHECK(failures == 0);
    const auto details = must(store->game_details(published.game.id, std::nullopt, 500));
    CHECK(details.rating.count == kThreads * kPerThread);
    CHECK(details.recent_reviews.size() == static_cast<std::size_t>(kThreads * kPerThread));
}
