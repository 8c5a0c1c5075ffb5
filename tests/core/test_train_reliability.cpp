// core/train under faults: odd data sets train or are refused clearly, and a run that is
// cancelled at any phase (validation included, issue 18), or whose checkpoint write fails,
// leaves a whole checkpoint that matches the steps it claims (issue 8).
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <utility>

#include <torch/torch.h>

#include "../train_recorder.h"
#include "../train_test_util.h"
#include "core/common/error.h"
#include "core/common/files.h"
#include "core/data/dataset.h"
#include "core/model/checkpoint.h"
#include "core/model/safetensors.h"
#include "core/train/trainer.h"
#include "core/train/validator.h"

using namespace vitrine;
using namespace vitrine::core::train;
namespace fs = std::filesystem;

namespace {

using testutil::Recorder;

TrainOptions tinyOptions(const fs::path& dir, const fs::path& data) {
    TrainOptions o;
    o.dataDir = data;
    o.model = (dir / "tiny.safetensors").string();
    if (!fs::exists(o.model))
        testutil::writeTinyModel(o.model);
    o.labelLevel = -1;
    o.pk = {/*classesPerBatch=*/4, /*imagesPerClass=*/4};
    o.stepsPerEpoch = 3;
    o.epochs = 2;
    o.learningRate = 1e-3;
    o.seed = 5;
    return o;
}

/// Files in `dir` whose name marks them as an atomic writer's temporary.
int temporaries(const fs::path& dir) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir))
        n += e.path().filename().string().find(".tmp-") != std::string::npos ? 1 : 0;
    return n;
}

/// Every tensor (weights and optimizer moments) of two checkpoints agrees.
void requireSameTensors(const fs::path& a, const fs::path& b) {
    auto x = core::model::readSafetensors(a).tensors;
    auto y = core::model::readSafetensors(b).tensors;
    REQUIRE(x.size() == y.size());
    for (const auto& [name, t] : x) {
        INFO(name);
        REQUIRE(y.count(name) == 1);
        CHECK(torch::allclose(t, y.at(name), /*rtol=*/1e-4, /*atol=*/1e-6));
    }
}

std::int64_t checkpointStep(const fs::path& file) {
    return core::model::loadModel(file.string()).metadata["training"]["step"].get<std::int64_t>();
}

} // namespace

TEST_CASE("cancelling at each phase leaves a checkpoint of exactly the completed steps", "[train][reliability]") {
    testutil::TempDir tmp("cancel-phases");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto base = tinyOptions(tmp.path, tmp.path / "data");

    // References: the same run stopped cleanly after 2 and after 3 steps.
    for (int k : {2, 3}) {
        auto o = base;
        o.stopAfterSteps = k;
        o.checkpointPath = tmp.path / ("ref" + std::to_string(k) + ".safetensors");
        REQUIRE(Trainer(o).run().checkpointWritten);
    }

    struct Case {
        TrainPhase phase;
        std::int64_t atStep;
        std::int64_t expectSteps;
        const char* name;
    };
    // Forward/backward of step 3 are abandoned; an optimizer update that started completes;
    // a checkpoint write that started completes and the run ends there.
    for (const Case c : {Case{TrainPhase::Forward, 3, 2, "forward"}, Case{TrainPhase::Backward, 3, 2, "backward"},
                         Case{TrainPhase::OptimizerStep, 3, 3, "optimizer step"},
                         Case{TrainPhase::WritingCheckpoint, 2, 2, "checkpoint write"}}) {
        INFO("cancel during " << c.name);
        const auto dir = tmp.path / c.name;
        fs::create_directories(dir);
        auto o = base;
        o.checkpointPath = dir / "run.safetensors";
        o.checkpointEverySteps = 2;
        core::CancelToken stop;
        o.cancel = &stop;
        int hits = 0;
        o.phaseHook = [&](TrainPhase p, std::int64_t step) {
            if (p == c.phase && step == c.atStep && hits++ == 0)
                stop.cancel(); // as a GUI's Stop button would, from any thread
        };
        Trainer trainer(o);
        Recorder rec;
        auto r = trainer.run(&rec);
        CHECK(hits >= 1);
        CHECK(r.cancelled);
        CHECK(r.steps == c.expectSteps);
        CHECK(rec.steps.size() == std::size_t(c.expectSteps));
        REQUIRE(r.checkpointWritten);
        CHECK(checkpointStep(o.checkpointPath) == c.expectSteps);
        requireSameTensors(o.checkpointPath, tmp.path / ("ref" + std::to_string(c.expectSteps) + ".safetensors"));
        CHECK(temporaries(dir) == 0);
    }

    { // cancel while loading images: nothing is written, the earlier checkpoint stays
        INFO("cancel during load");
        auto o = base;
        o.checkpointPath = tmp.path / "ref2.safetensors";
        const std::string before = core::readFile(o.checkpointPath);
        core::CancelToken stop;
        o.cancel = &stop;
        int loads = 0;
        o.phaseHook = [&](TrainPhase p, std::int64_t) {
            if (p == TrainPhase::LoadingImage && ++loads == 5)
                stop.cancel();
            CHECK(p == TrainPhase::LoadingImage); // never reaches a step
        };
        Trainer trainer(o);
        auto r = trainer.run();
        CHECK(r.cancelled);
        CHECK(r.steps == 0);
        CHECK_FALSE(r.checkpointWritten);
        CHECK_THAT(r.message, Catch::Contains("loading"));
        CHECK(core::readFile(o.checkpointPath) == before);
        CHECK(temporaries(tmp.path) == 0);
    }
}

TEST_CASE("validation stops within one batch of a cancel, with core::Cancelled", "[train][validation]") {
    testutil::TempDir tmp("validator-cancel");
    auto loaded = core::model::loadModel(testutil::writeTinyModel(tmp.path / "tiny.safetensors").string());
    auto& model = *loaded.model;
    const int side = model.config().imageSize;
    constexpr int kImages = 64, kBatch = 4;
    torch::manual_seed(1);
    std::vector<int> labels(kImages);
    for (int i = 0; i < kImages; ++i)
        labels[std::size_t(i)] = i % 4;
    const Validator validator(torch::randn({kImages, 3, side, side}), labels, kBatch);
    REQUIRE(validator.canValidate());

    // Uncancelled, it reports every batch and scores the split.
    std::vector<long long> seen;
    auto record = [&](long long done, long long total, const core::Stage& stage) {
        CHECK(stage.kind == core::StageKind::Validating);
        CHECK(total == kImages);
        seen.push_back(done);
    };
    const auto metrics = validator.run(model, core::Precision::Fp32, record);
    CHECK(metrics.rows == std::size_t(kImages));
    CHECK(seen.back() == kImages);

    // Cancelled after the first batch: the next poll, before the second batch, throws.
    seen.clear();
    core::CancelToken cancel;
    auto cancelAfterFirst = [&](long long done, long long total, const core::Stage& stage) {
        record(done, total, stage);
        if (done > 0)
            cancel.cancel(); // from the callback, as a Stop from another thread lands between batches
    };
    REQUIRE_THROWS_AS(validator.run(model, core::Precision::Fp32, cancelAfterFirst, &cancel), core::Cancelled);
    CHECK(seen == std::vector<long long>{0, kBatch});
}

TEST_CASE("a Stop while the trainer validates ends the run at once, keeping the completed steps",
          "[train][validation]") {
    testutil::TempDir tmp("validate-cancel");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto base = tinyOptions(tmp.path, tmp.path / "data");
    base.epochs = 5;

    struct Listener : Recorder {
        core::CancelToken* stop = nullptr;
        int cancelAtValidation = 0; ///< 1 = the one before the first step, 2 = after epoch 1
        int validations = 0;
        void onProgress(long long done, long long, const core::Stage& stage) override {
            if (stage.kind == core::StageKind::Validating && done == 0 && ++validations == cancelAtValidation)
                stop->cancel(); // before its first batch
        }
    };

    // A run of `base` writing to `checkpoint`, stopped as validation number `at` begins.
    auto runStoppedAt = [&](int at, const fs::path& checkpoint, Listener& l) {
        auto o = base;
        o.checkpointPath = checkpoint;
        core::CancelToken stop;
        o.cancel = &stop;
        l.stop = &stop;
        l.cancelAtValidation = at;
        return std::make_pair(Trainer(o).run(&l), o);
    };

    { // after epoch 1: the 3 steps landed; their checkpoint is written, without new metrics
        Listener l;
        const auto [r, o] = runStoppedAt(2, tmp.path / "epoch.safetensors", l);
        CHECK(r.cancelled);
        CHECK(r.steps == 3);
        CHECK(l.steps.size() == 3);
        REQUIRE(l.epochs.size() == 1); // the validation before training; epoch 1's never finished
        CHECK(l.epochs.front().epoch == 0);
        REQUIRE(r.checkpointWritten);
        CHECK(checkpointStep(o.checkpointPath) == 3);
        CHECK(temporaries(tmp.path) == 0);
    }
    { // before the first step: nothing trained, nothing written
        Listener l;
        const auto [r, o] = runStoppedAt(1, tmp.path / "first.safetensors", l);
        CHECK(r.cancelled);
        CHECK(r.steps == 0);
        CHECK(l.steps.empty());
        CHECK(l.epochs.empty());
        CHECK_FALSE(r.checkpointWritten);
        CHECK_FALSE(fs::exists(o.checkpointPath));
        CHECK_THAT(r.message, Catch::Contains("validating"));
    }
}

TEST_CASE("a checkpoint write that fails mid-file (disk full) keeps the last good checkpoint", "[train][reliability]") {
    testutil::TempDir tmp("ckpt-full");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.checkpointPath = tmp.path / "run.safetensors";
    o.epochs = 1;
    REQUIRE(Trainer(o).run().checkpointWritten);
    const std::string before = core::readFile(o.checkpointPath);
    REQUIRE(before.size() > 64 * 1024);

    // RLIMIT_FSIZE makes write() fail with EFBIG past the limit, as a full disk does with
    // ENOSPC; SIGXFSZ is ignored so the write returns an error instead of killing us.
    o.seed = 99;
    o.learningRate = 1e-2; // a different run: its checkpoint would differ byte for byte
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small{64 * 1024, old.rlim_max};
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string error;
    try {
        Trainer(o).run();
    } catch (const core::Error& e) {
        error = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, previous);
    CHECK_THAT(error, Catch::Contains("run.safetensors") && Catch::Contains("unchanged"));
    CHECK(core::readFile(o.checkpointPath) == before);
    CHECK(temporaries(tmp.path) == 0);
}

TEST_CASE("duplicate images (distance 0) train with finite losses and no skipped step", "[train][reliability]") {
    testutil::TempDir tmp("dupes");
    // Every class holds the same photo six times: every positive and every negative pair is
    // at distance 0 without augmentation.
    const fs::path photo = fs::path(VITRINE_TEST_DATA) / "cat/Abyssinian/Abyssinian_1.jpg";
    for (const char* cls : {"a", "b", "c", "d"}) {
        fs::create_directories(tmp.path / "data" / cls);
        for (int i = 0; i < 6; ++i)
            fs::create_symlink(photo, tmp.path / "data" / cls / ("copy" + std::to_string(i) + ".jpg"));
    }
    for (const char* miner : {"batch-all", "batch-hard", "semi-hard", "random"}) {
        INFO(miner);
        auto o = tinyOptions(tmp.path, tmp.path / "data");
        o.augment.enabled = false;
        o.miner = miner;
        Recorder rec;
        auto r = Trainer(o).run(&rec);
        CHECK(r.steps == 6);
        CHECK(r.skippedSteps == 0);
        CHECK_FALSE(r.stoppedNonFinite);
        for (const auto& s : rec.steps) {
            CHECK(std::isfinite(s.loss));
            CHECK(s.meanNegative == Approx(0).margin(1e-3));
        }
    }
}

TEST_CASE("one-image classes: used when others have pairs, refused clearly when all are single",
          "[train][reliability]") {
    testutil::TempDir tmp("singletons");
    const fs::path demo = VITRINE_TEST_DATA;
    SECTION("two classes of six and two of one image train") {
        testutil::linkDemoSubset(tmp.path / "data", {"cat/Bengal", "dog/beagle"}, 6);
        testutil::linkDemoSubset(tmp.path / "data", {"cat/Birman", "dog/boxer"}, 1);
        auto o = tinyOptions(tmp.path, tmp.path / "data");
        o.pk = {2, 2};
        auto r = Trainer(o).run();
        CHECK(r.steps == 6);
        CHECK(r.classes == 4);
        CHECK_FALSE(r.stoppedNonFinite);
    }
    SECTION("every class with a single image is an error that says so") {
        testutil::linkDemoSubset(tmp.path / "data", {"cat/Bengal", "dog/beagle", "cat/Birman", "dog/boxer"}, 1);
        auto o = tinyOptions(tmp.path, tmp.path / "data");
        CHECK_THROWS_WITH(Trainer(o).run(), Catch::Contains("single training image"));
    }
}

TEST_CASE("an image deleted between scan and training is skipped with a warning", "[train][reliability]") {
    testutil::TempDir tmp("deleted");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto ds = std::make_shared<core::data::Dataset>(core::data::scanFolder(tmp.path / "data"));
    REQUIRE(ds->samples.size() == 24);
    const auto victim = ds->samples[3].path;
    fs::remove(victim);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    o.dataset = ds;
    Recorder rec;
    auto r = Trainer(o).run(&rec);
    CHECK(r.steps == 6);
    CHECK(r.trainImages + r.validationImages == 23);
    bool named = false;
    for (const auto& w : rec.warnings)
        named |= w.find(victim.filename().string()) != std::string::npos && w.find("skipped") != std::string::npos;
    CHECK(named);
}
