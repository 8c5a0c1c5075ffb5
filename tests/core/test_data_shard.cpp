// Sharding a data set for `embed --shard I/N` (core/data/shard.h): the shards partition the
// files, depend on each file's path only (not on the order the files were listed in), are
// balanced, and the spec is parsed with errors that say what to write.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "core/common/error.h"
#include "core/data/shard.h"

using namespace vitrine::core;

TEST_CASE("shards partition the files by path, whatever their order, and are balanced", "[data][shard]") {
    std::vector<std::string> paths;
    for (int i = 0; i < 4000; ++i)
        paths.push_back((i % 2 ? "dog/" : "cat/") + std::string("img_") + std::to_string(i) + ".jpg");
    const int n = 8;
    std::vector<int> sizes(n, 0);
    for (const auto& p : paths) {
        int hits = 0;
        for (int i = 0; i < n; ++i)
            hits += data::inShard(p, data::ShardSpec{i, n}) ? 1 : 0;
        CHECK(hits == 1); // exactly one shard holds each file
        ++sizes[std::size_t(data::shardOfPath(p, n))];
    }
    for (int size : sizes) // 500 expected; a binomial's 4.5 sigma is ~84
        CHECK(std::abs(size - 500) < 90);
    CHECK(data::inShard("anything.jpg", data::ShardSpec{}));

    // The file list's fingerprint ignores the listing order and sees a renamed file.
    data::Dataset a, b;
    for (const auto& p : paths)
        a.samples.push_back({"/x/" + p, p, {}});
    b = a;
    std::shuffle(b.samples.begin(), b.samples.end(), std::mt19937(3));
    CHECK(data::fileListFingerprint(a) == data::fileListFingerprint(b));
    b.samples.front().relativePath += "x";
    CHECK(data::fileListFingerprint(a) != data::fileListFingerprint(b));
}

TEST_CASE("a shard is I/N counted from 0, and mistakes say what to write", "[data][shard]") {
    const auto s = data::parseShard("3/8");
    CHECK(s.index == 3);
    CHECK(s.count == 8);
    CHECK(data::parseShard("0/1").whole());
    CHECK_THROWS_WITH(data::parseShard("8/8"), Catch::Contains("below N"));
    CHECK_THROWS_WITH(data::parseShard("3"), Catch::Contains("I/N"));
    CHECK_THROWS_WITH(data::parseShard("a/8"), Catch::Contains("whole number"));
    CHECK_THROWS_WITH(data::parseShard("1/0"), Catch::Contains("between 1"));
    CHECK_THROWS_WITH(data::parseShard("-1/4"), Catch::Contains("whole number"));
}
