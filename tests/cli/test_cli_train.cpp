#include <catch2/catch.hpp>

#include "cli_run.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "../train_test_util.h"
#include "core/io/atomic_file.h"
#include "core/model/checkpoint.h"

using namespace vitrine;
namespace fs = std::filesystem;

namespace {

/// The shared runner (tests/cli/cli_run.h): stdout captured, stderr through a file in `dir`.
vitrine::testutil::CliRun runCli(const std::string& args, const fs::path& dir) {
    return vitrine::testutil::cli(args, dir);
}

/// The last JSON line of a --json train run (the "done" event).
nlohmann::json doneEvent(const std::string& out) {
    std::istringstream in(out);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty())
            last = line;
    auto j = nlohmann::json::parse(last);
    REQUIRE(j["event"] == "done");
    return j;
}

} // namespace

TEST_CASE("cli train runs an epoch on a demo subset, writes a checkpoint that eval scores", "[cli][train]") {
    testutil::TempDir tmp("cli-train");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    const auto model = testutil::writeTinyModel(tmp.path / "tiny.safetensors");
    const auto ckpt = tmp.path / "out.safetensors";
    const std::string common = "--data " + (tmp.path / "data").string() + " --out " + ckpt.string() + " --model " +
                               model.string() + " -P 4 -K 4 --label-level -1 --lr 1e-3 --seed 3";
    auto r = runCli("train " + common + " --epochs 1 --json", tmp.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto done = doneEvent(r.out);
    CHECK(done["steps"] == 2); // ceil(~19 training images / 16)
    CHECK(done["classes"] == 4);
    CHECK(done["checkpoint"] == ckpt.string());
    CHECK(r.out.find("\"event\":\"epoch\"") != std::string::npos);
    auto loaded = core::model::loadModel(ckpt.string());
    CHECK(loaded.metadata["training"]["step"] == 2);

    auto e = runCli("eval --model " + ckpt.string() + " --data " + (tmp.path / "data").string() +
                        " --label-level -1 --split all --json",
                    tmp.path);
    INFO(e.err);
    REQUIRE(e.code == 0);
    auto m = nlohmann::json::parse(e.out);
    CHECK(m["images"] == 24);
    CHECK(m["classes"] == 4);
    for (const char* key : {"precision_at_1", "r_precision", "map_at_r", "knn_accuracy"}) {
        CHECK(m[key].get<double>() >= 0.0);
        CHECK(m[key].get<double>() <= 1.0);
    }
    auto text = runCli("eval --model " + ckpt.string() + " --data " + (tmp.path / "data").string(), tmp.path);
    CHECK(text.code == 0);
    CHECK_THAT(text.out, Catch::Contains("MAP@R") && Catch::Contains("Precision@1"));
    auto px = runCli("eval --baseline pixels --split all --json --data " + (tmp.path / "data").string(), tmp.path);
    REQUIRE(px.code == 0);
    CHECK(nlohmann::json::parse(px.out)["model"] == "pixels 16x16");

    // Resume: stop at step 1, then continue to the end.
    const auto ckpt2 = tmp.path / "resume.safetensors";
    const std::string common2 = "--data " + (tmp.path / "data").string() + " --out " + ckpt2.string() + " --model " +
                                model.string() + " -P 4 -K 4 --label-level -1 --epochs 2 --json";
    auto a = runCli("train " + common2 + " --stop-after 1", tmp.path);
    REQUIRE(a.code == 0);
    CHECK(doneEvent(a.out)["steps"] == 1);
    auto b = runCli("train " + common2 + " --resume", tmp.path);
    INFO(b.err);
    REQUIRE(b.code == 0);
    CHECK(doneEvent(b.out)["steps"] == 4);
    CHECK(core::model::loadModel(ckpt2.string()).metadata["training"]["step"] == 4);
}

TEST_CASE("cli train refuses a single-class data set and explains why", "[cli][train]") {
    testutil::TempDir tmp("cli-single");
    testutil::linkDemoSubset(tmp.path / "data", {"dog/beagle"}, 5);
    auto r = runCli("train --data " + (tmp.path / "data").string() + " --out " + (tmp.path / "x.safetensors").string() +
                        " --image-size 32",
                    tmp.path);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("at least 2 classes") && Catch::Contains("'dog'"));
    CHECK_FALSE(fs::exists(tmp.path / "x.safetensors"));
}

TEST_CASE("cli train stops on a non-finite loss with exit code 1", "[cli][train]") {
    testutil::TempDir tmp("cli-nan");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    const auto model = testutil::writeTinyModel(tmp.path / "tiny.safetensors");
    auto r = runCli("train --data " + (tmp.path / "data").string() + " --out " + (tmp.path / "x.safetensors").string() +
                        " --model " + model.string() + " -P 4 -K 4 --label-level -1 --epochs 10 --lr 1e30 --warmup 0",
                    tmp.path);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("non-finite") && Catch::Contains("--lr"));
    CHECK_FALSE(fs::exists(tmp.path / "x.safetensors"));
}
