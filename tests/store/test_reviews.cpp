#include "tests/store/store_fixture.hpp"

using namespace gamestore::store;
using namespace gamestore::store::test;

namespace {

struct ReviewFixture : StoreFixture {
    Account dev = developer("dev");
    Account alice = player("alice");
    PublishResult v1 = publish(dev.id, "Quiz", "1.0.0");
    GameId game = v1.game.id;
};

std::string repeat(const std::string& piece, std::size_t times) {
    std::string out;
    for (std::size_t i = 0; i < times; ++i)
        out += piece;
    return out;
}

}  // namespace

TEST_CASE_METHOD(ReviewFixture, "reviews need play history", "[store][reviews]") {
    CHECK_FALSE(must(store->has_played(alice.id, game)));
    const auto e = must_fail(store->upsert_review(alice.id, game, 5, "great", kT0),
                             StoreError::Code::Forbidden);
    CHECK(e.message == "you can review Quiz after you have played it");
    must_fail(store->upsert_review(dev.id, game, 5, "my own game!", kT0),
              StoreError::Code::Forbidden);
    must_fail(store->upsert_review(alice.id, game + 10, 5, "", kT0), StoreError::Code::NotFound);

    must(store->record_play(alice.id, game, v1.version.id, kT0));
    CHECK(must(store->has_played(alice.id, game)));
    const auto review = must(store->upsert_review(alice.id, game, 4, "fun", kT0 + 1));
    CHECK(review.author_id == alice.id);
    CHECK(review.author_name == "alice");
    CHECK(review.rating == 4);
    CHECK(review.text == "fun");
    CHECK(review.version == "1.0.0");
    CHECK(review.created_at == kT0 + 1);
}

TEST_CASE_METHOD(ReviewFixture, "one review per player per game: edit and delete",
                 "[store][reviews]") {
    must(store->record_play(alice.id, game, v1.version.id, kT0));
    const auto first = must(store->upsert_review(alice.id, game, 2, "meh", kT0 + 1));

    // Playing a newer version restamps the review on the next edit.
    const auto v2 = publish(dev.id, "Quiz", "1.1.0");
    must(store->record_play(alice.id, game, v2.version.id, kT0 + 2));
    const auto edited = must(store->upsert_review(alice.id, game, 5, "much better now", kT0 + 3));
    CHECK(edited.id == first.id);
    CHECK(edited.rating == 5);
    CHECK(edited.text == "much better now");
    CHECK(edited.version == "1.1.0");
    CHECK(edited.created_at == kT0 + 1);
    CHECK(edited.updated_at == kT0 + 3);
    CHECK(must(store->rating_summary(game)).count == 1);
    CHECK(must(store->get_review(alice.id, game)).text == "much better now");

    must(store->delete_review(alice.id, game));
    must_fail(store->get_review(alice.id, game), StoreError::Code::NotFound);
    must_fail(store->delete_review(alice.id, game), StoreError::Code::NotFound);
    CHECK(must(store->rating_summary(game)).count == 0);
    // Deleting does not take away the right to review again.
    CHECK(store->upsert_review(alice.id, game, 3, "", kT0 + 4).ok());
}

TEST_CASE_METHOD(ReviewFixture, "rating bounds and text limits", "[store][reviews]") {
    must(store->record_play(alice.id, game, v1.version.id, kT0));
    for (const int rating : {0, 6, -1}) {
        INFO(rating);
        const auto e = must_fail(store->upsert_review(alice.id, game, rating, "x", kT0),
                                 StoreError::Code::Invalid);
        CHECK(e.message == "a rating must be a whole number from 1 to 5");
    }
    // The limit counts code points, not bytes: 2000 two-byte characters pass.
    const std::string accents = repeat("\xc3\xa9", 2000);
    CHECK(must(store->upsert_review(alice.id, game, 1, accents, kT0)).text == accents);
    const auto e = must_fail(store->upsert_review(alice.id, game, 1, accents + "!", kT0),
                             StoreError::Code::Invalid);
    CHECK(e.message == "a review may be at most 2000 characters long (it has 2001)");
    must_fail(store->upsert_review(alice.id, game, 1, "bad \xff utf8", kT0),
              StoreError::Code::Invalid);
    must_fail(store->upsert_review(alice.id, game, 1, "\x1b[2Jgotcha", kT0),
              StoreError::Code::Invalid);
    CHECK(store->upsert_review(alice.id, game, 1, "line one\nline two\ttabbed", kT0).ok());
    CHECK(must(store->get_review(alice.id, game)).rating == 1);
}

TEST_CASE_METHOD(ReviewFixture, "details show the average, the count and recent reviews",
                 "[store][reviews]") {
    const auto bob = player("bob");
    const auto carol = player("carol");
    int minute = 0;
    for (const auto& [who, rating] :
         std::vector<std::pair<Account, int>>{{alice, 5}, {bob, 4}, {carol, 4}}) {
        must(store->record_play(who.id, game, v1.version.id, kT0));
        must(store->upsert_review(who.id, game, rating, who.name + " says hi",
                                  kT0 + (++minute) * 60000));
    }
    const auto details = must(store->game_details(game, std::nullopt, 2));
    CHECK(details.rating.count == 3);
    CHECK(details.rating.average == Approx(4.3));  // 13/3 = 4.333.. rounded to one decimal
    REQUIRE(details.recent_reviews.size() == 2);
    CHECK(details.recent_reviews[0].author_name == "carol");
    CHECK(details.recent_reviews[1].author_name == "bob");
    CHECK(details.versions.size() == 1);

    const auto page = must(store->list_reviews(game, 10, 2));
    REQUIRE(page.size() == 1);
    CHECK(page[0].author_name == "alice");

    const auto listed = must(store->list_games());
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].rating.count == 3);
    CHECK(listed[0].rating.average == Approx(4.3));
}
