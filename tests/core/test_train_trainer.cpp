#include <catch2/catch.hpp>

#include "core/common/files.h"
#include "tests/support/wait_until.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <torch/torch.h>

#include "../train_recorder.h"
#include "../train_test_util.h"
#include "core/common/error.h"
#include "core/model/checkpoint.h"
#include "core/train/trainer.h"

using namespace vitrine;
using namespace vitrine::core::train;
namespace fs = std::filesystem;

namespace {

using testutil::Recorder;

TrainOptions tinyOptions(const fs::path& dir, const fs::path& data) {
    TrainOptions o;
    o.dataDir = data;
    o.model = testutil::writeTinyModel(dir / "tiny.safetensors").string();
    o.labelLevel = -1;
    o.pk = {/*classesPerBatch=*/4, /*imagesPerClass=*/4};
    o.stepsPerEpoch = 3;
    o.epochs = 2;
    o.learningRate = 1e-3;
    o.checkpointPath = dir / "run.safetensors";
    o.seed = 11;
    return o;
}

} // namespace

TEST_CASE("resuming from a checkpoint continues the same loss curve", "[train]") {
    testutil::TempDir tmp("resume");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");

    Recorder straight;
    auto full = Trainer(o).run(&straight);
    REQUIRE(full.steps == 6);
    REQUIRE(straight.steps.size() == 6);

    o.checkpointPath = tmp.path / "resumed.safetensors";
    o.stopAfterSteps = 3;
    Recorder first, second;
    auto a = Trainer(o).run(&first);
    CHECK(a.steps == 3);
    CHECK(a.checkpointWritten);
    auto meta = core::model::loadModel(o.checkpointPath.string()).metadata;
    CHECK(meta["training"]["step"] == 3);
    o.stopAfterSteps = 0;
    o.resume = true;
    auto b = Trainer(o).run(&second);
    CHECK(b.steps == 6);
    REQUIRE(second.steps.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(first.steps[i].loss == Approx(straight.steps[i].loss).margin(1e-6));
        CHECK(second.steps[i].step == straight.steps[i + 3].step);
        CHECK(second.steps[i].learningRate == Approx(straight.steps[i + 3].learningRate));
        CHECK(second.steps[i].loss == Approx(straight.steps[i + 3].loss).margin(1e-4));
    }
}

TEST_CASE("training on a tiny subset lowers the loss and writes a loadable checkpoint", "[train]") {
    testutil::TempDir tmp("lower");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.augment.enabled = false;
    o.stepsPerEpoch = 10;
    o.epochs = 3;
    Recorder rec;
    auto r = Trainer(o).run(&rec);
    REQUIRE(rec.steps.size() == 30);
    double early = 0, late = 0;
    for (int i = 0; i < 5; ++i) {
        early += rec.steps[std::size_t(i)].loss;
        late += rec.steps[rec.steps.size() - 1 - std::size_t(i)].loss;
    }
    CHECK(late < early);
    CHECK(r.skippedSteps == 0);
    CHECK(r.classes == 4);
    CHECK(r.trainImages + r.validationImages == 24);
    REQUIRE(rec.epochs.size() == 4); // before training + 3 epochs
    CHECK(rec.epochs.front().validated);
    CHECK(rec.steps.front().learningRate < rec.steps[5].learningRate); // warm-up
    CHECK(rec.steps.back().learningRate < o.learningRate * 0.1);       // cosine decay
    auto loaded = core::model::loadModel(o.checkpointPath.string());
    CHECK(loaded.layout == "vitrine");
    CHECK(loaded.extraTensors.count("optimizer/head.weight/exp_avg") == 1);
    CHECK(loaded.metadata["class_names"].size() == 4);
}

TEST_CASE("data with a single class is refused with what to add", "[train]") {
    testutil::TempDir tmp("single");
    testutil::linkDemoSubset(tmp.path / "data", {"cat/Bengal"}, 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.labelLevel = 0;
    CHECK_THROWS_WITH(Trainer(o).run(), Catch::Contains("at least 2 classes") && Catch::Contains("'cat'") &&
                                            Catch::Contains("Add a sub-folder"));
}

TEST_CASE("batches without any mined triplet train on with zero loss", "[train]") {
    testutil::TempDir tmp("zero");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.miner = "semi-hard";
    o.margin = 0.0; // the band d_ap < d_an < d_ap + 0 is empty
    Recorder rec;
    auto r = Trainer(o).run(&rec);
    CHECK(r.steps == 6);
    CHECK(r.skippedSteps == 0);
    CHECK_FALSE(r.stoppedNonFinite);
    for (const auto& s : rec.steps) {
        CHECK(s.found == 0);
        CHECK(s.loss == 0.0);
    }
    CHECK(r.checkpointWritten);
}

TEST_CASE("a huge learning rate stops after 5 non-finite steps and keeps the last checkpoint", "[train]") {
    testutil::TempDir tmp("nan");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.epochs = 4;
    REQUIRE(Trainer(o).run().checkpointWritten);
    const auto before = core::readFile(o.checkpointPath);
    o.learningRate = 1e30;
    o.warmupFraction = 0;
    o.gradClipNorm = 0;
    Recorder rec;
    auto r = Trainer(o).run(&rec);
    CHECK(r.stoppedNonFinite);
    CHECK(r.skippedSteps == 5);
    CHECK_THAT(r.message, Catch::Contains("learning rate"));
    CHECK_FALSE(r.checkpointWritten);
    CHECK(core::readFile(o.checkpointPath) == before);
    REQUIRE(rec.steps.size() >= 5);
    for (std::size_t i = rec.steps.size() - 5; i < rec.steps.size(); ++i)
        CHECK(rec.steps[i].skipped);
}

TEST_CASE("pause, snapshot and cancel from another thread", "[train][threads]") {
    testutil::TempDir tmp("pause");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.epochs = 50;
    core::CancelToken stop;
    o.cancel = &stop;
    Trainer trainer(o);
    Recorder rec;
    std::atomic<std::int64_t> lastStep{0};
    rec.hook = [&](const StepStats& s) {
        lastStep = s.step;
        if (s.step == 2)
            trainer.requestPause();
    };
    TrainResult result;
    std::thread worker([&] { result = trainer.run(&rec); });
    REQUIRE(testutil::waitUntil([&] { return trainer.isWaiting(); }, 120000));
    // Paused means no step for as long as we look: 300 ms is many tiny-model steps.
    CHECK_FALSE(testutil::waitUntil([&] { return lastStep.load() > 2; }, 300));
    CHECK(rec.steps.size() == 2); // waiting, not stepping
    auto snap = trainer.snapshotState();
    CHECK(snap.count("head.weight") == 1);
    CHECK(snap.at("head.weight").sizes() == torch::IntArrayRef({16, 32}));
    trainer.resume();
    // A cancel abandons the step in flight, so wait for one to complete after resuming.
    REQUIRE(testutil::waitUntil([&] { return lastStep.load() >= 3; }, 120000));
    stop.cancel();
    worker.join();
    CHECK(result.cancelled);
    CHECK(result.steps > 2);
    CHECK(result.steps < 100);
    CHECK(result.checkpointWritten);
    CHECK(core::model::loadModel(o.checkpointPath.string()).metadata["training"]["step"] == result.steps);
}

TEST_CASE("bf16 autocast training follows the fp32 loss", "[train]") {
    testutil::TempDir tmp("bf16");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.checkpointPath.clear();
    Recorder f32, b16;
    Trainer(o).run(&f32);
    o.precision = core::Precision::Bf16;
    Trainer(o).run(&b16);
    REQUIRE(f32.steps.size() == b16.steps.size());
    for (std::size_t i = 0; i < f32.steps.size(); ++i)
        CHECK(b16.steps[i].loss == Approx(f32.steps[i].loss).margin(0.03));
}
