#include <catch2/catch.hpp>

#include <map>
#include <set>

#include <opencv2/core.hpp>

#include "core/common/error.h"
#include "core/data/pk_sampler.h"
#include "core/image/augment.h"

using namespace vitrine::core;

TEST_CASE("P x K batches hold P classes with K images each, reproducibly", "[train][data]") {
    // 5 classes: sizes 6, 6, 4, 2, 1.
    std::vector<int> ids{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4};
    std::vector<std::size_t> pool(ids.size());
    for (std::size_t i = 0; i < pool.size(); ++i)
        pool[i] = i;
    data::PkSampler s(ids, pool, {/*classesPerBatch=*/3, /*imagesPerClass=*/4}, 42);
    CHECK(s.batchSize() == 12);
    std::set<int> seenClasses;
    for (int step = 0; step < 50; ++step) {
        auto b = s.batch(step);
        REQUIRE(b.size() == 12);
        CHECK(b == s.batch(step));
        std::map<int, std::vector<std::size_t>> per;
        for (auto i : b)
            per[ids[i]].push_back(i);
        CHECK(per.size() == 3);
        for (auto& [c, members] : per) {
            seenClasses.insert(c);
            CHECK(members.size() == 4);
            if (c <= 2) // >= K images: drawn without replacement
                CHECK(std::set<std::size_t>(members.begin(), members.end()).size() == 4);
            else // with replacement, but every image present
                CHECK(std::set<std::size_t>(members.begin(), members.end()).size() ==
                      std::min<std::size_t>(2, members.size()));
        }
    }
    CHECK(seenClasses == std::set<int>{0, 1, 2, 3}); // the single-image class is used last
    CHECK(s.batch(1) != s.batch(2));
    data::PkSampler other(ids, pool, {3, 4}, 43);
    CHECK(other.batch(0) != s.batch(0));
}

TEST_CASE("P x K sampling refuses data that cannot form triplets", "[train][data]") {
    std::vector<std::size_t> pool{0, 1, 2};
    CHECK_THROWS_WITH(data::PkSampler({0, 0, 0}, pool, {}, 1, {"cat"}),
                      Catch::Contains("at least 2 classes") && Catch::Contains("'cat'"));
    CHECK_THROWS_WITH(data::PkSampler({0, 1, 2}, pool, {}, 1), Catch::Contains("single training image"));
    CHECK_THROWS_WITH(data::PkSampler({0, 0, 1}, pool, {1, 4}, 1), Catch::Contains("at least 2"));
    data::PkSampler small({0, 0, 1}, pool, {8, 4}, 1);
    CHECK(small.classesPerBatch() == 2);
    CHECK(small.imagesPerClass() == 16); // batch size kept at P x K
}

TEST_CASE("augmentations are seeded, sized and keep the image", "[train][image]") {
    cv::Mat img(60, 90, CV_8UC3);
    cv::randu(img, 0, 255);
    image::AugmentOptions o;
    std::mt19937_64 a(5), b(5), c(6);
    auto x = image::augment(img, 32, o, a);
    auto y = image::augment(img, 32, o, b);
    auto z = image::augment(img, 32, o, c);
    CHECK(x.size() == cv::Size(32, 32));
    CHECK(x.type() == CV_8UC3);
    CHECK(cv::norm(x, y, cv::NORM_INF) == 0);
    CHECK(cv::norm(x, z, cv::NORM_INF) > 0);
    o.enabled = false;
    auto c1 = image::augment(img, 32, o, a);
    auto c2 = image::augment(img, 32, o, c);
    CHECK(cv::norm(c1, c2, cv::NORM_INF) == 0);
    // Flip only: the result is the centre crop or its mirror.
    image::AugmentOptions flip;
    flip.minScale = flip.maxScale = 1.0;
    flip.minRatio = flip.maxRatio = 1.0;
    flip.brightness = flip.contrast = flip.saturation = 0;
    cv::Mat sq(40, 40, CV_8UC3);
    cv::randu(sq, 0, 255);
    int flipped = 0;
    for (int i = 0; i < 20; ++i) {
        auto out = image::augment(sq, 40, flip, a);
        cv::Mat mirror;
        cv::flip(sq, mirror, 1);
        const bool same = cv::norm(out, sq, cv::NORM_INF) == 0;
        const bool mirrored = cv::norm(out, mirror, cv::NORM_INF) == 0;
        CHECK((same || mirrored));
        flipped += mirrored ? 1 : 0;
    }
    CHECK(flipped > 0);
    CHECK(flipped < 20);
}
