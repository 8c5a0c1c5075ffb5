// Sharded embedding: `embed --shard I/N` in three processes and `merge` give the same files,
// byte for byte, as one `embed`; merge refuses a missing shard, a shard given twice, and
// shards of another run.
#include <catch2/catch.hpp>

#include <filesystem>

#include "../support/temp_dir.h"
#include "cli_run.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"

namespace fs = std::filesystem;
using namespace vitrine;
using testutil::cli;
using testutil::q;

TEST_CASE("embed --shard I/N and merge give what one embed gives, and merge checks its shards", "[cli][shard]") {
    testutil::TempDir dir("cli-shard");
    const fs::path data = dir / "data";
    int copied = 0;
    for (const char* breed : {"cat/Bengal", "cat/Persian", "dog/pug", "dog/beagle"}) {
        fs::create_directories(data / breed);
        int k = 0;
        for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / breed)) {
            if (k++ == 3)
                break;
            fs::copy_file(e.path(), data / breed / e.path().filename());
            ++copied;
        }
    }
    // --batch 1 and fp32: each image's arithmetic is the same in every process.
    const std::string common = "--model vit-micro-pets --data " + q(data) + " --batch 1 --precision fp32";
    auto whole = cli("embed " + common + " --out " + q(dir / "whole.npy"), dir.path);
    INFO(whole.err);
    REQUIRE(whole.code == 0);
    for (int i = 0; i < 3; ++i) {
        auto r = cli("embed " + common + " --shard " + std::to_string(i) + "/3 --out " +
                         q(dir / ("s" + std::to_string(i) + ".npy")),
                     dir.path);
        INFO(r.err);
        REQUIRE(r.code == 0);
        CHECK(fs::exists(dir / ("s" + std::to_string(i) + ".npy.shard.json")));
    }
    // In any order.
    auto merged = cli("merge --out " + q(dir / "merged.npy") + " " + q(dir / "s2.npy") + " " + q(dir / "s0.npy") + " " +
                          q(dir / "s1.npy"),
                      dir.path);
    INFO(merged.err);
    REQUIRE(merged.code == 0);
    CHECK(core::readFile(dir / "merged.npy") == core::readFile(dir / "whole.npy"));
    CHECK(core::readFile(dir / "merged.npy.rows.tsv") == core::readFile(dir / "whole.npy.rows.tsv"));
    CHECK(merged.err.find("merged 3 shards: " + std::to_string(copied) + " rows") != std::string::npos);

    auto missing = cli("merge --out " + q(dir / "m.npy") + " " + q(dir / "s0.npy") + " " + q(dir / "s2.npy"), dir.path);
    CHECK(missing.code == 1);
    CHECK(missing.err.find("shard(s) 1 of 3 are missing") != std::string::npos);
    auto twice = cli("merge --out " + q(dir / "m.npy") + " " + q(dir / "s0.npy") + " " + q(dir / "s0.npy") + " " +
                         q(dir / "s1.npy") + " " + q(dir / "s2.npy"),
                     dir.path);
    CHECK(twice.code == 1);
    CHECK(twice.err.find("given twice") != std::string::npos);
    // A shard of another run (another label level) is refused, and nothing is written.
    REQUIRE(cli("embed " + common + " --label-level 0 --shard 1/3 --out " + q(dir / "other.npy"), dir.path).code == 0);
    auto mixed = cli("merge --out " + q(dir / "m.npy") + " " + q(dir / "s0.npy") + " " + q(dir / "other.npy") + " " +
                         q(dir / "s2.npy"),
                     dir.path);
    CHECK(mixed.code == 1);
    CHECK(mixed.err.find("label_level differs") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "m.npy"));
    auto bad = cli("embed " + common + " --shard 3/3 --out " + q(dir / "x.npy"), dir.path);
    CHECK(bad.code == 1);
    CHECK(bad.err.find("below N") != std::string::npos);
}
