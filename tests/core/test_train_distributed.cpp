#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <thread>

#include <torch/torch.h>

#include "../train_test_util.h"
#include "core/common/files.h"
#include "core/model/checkpoint.h"
#include "core/train/distributed.h"
#include "core/train/trainer.h"

using namespace vitrine;
using namespace vitrine::core::train;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

TrainOptions tinyOptions(const fs::path& dir, const fs::path& data) {
    TrainOptions o;
    o.dataDir = data;
    o.model = testutil::writeTinyModel(dir / "tiny.safetensors").string();
    o.labelLevel = -1;
    o.pk = {/*classesPerBatch=*/2, /*imagesPerClass=*/4}; // B = 8 per rank
    o.stepsPerEpoch = 4;
    o.epochs = 1;
    o.learningRate = 3e-3;
    o.warmupFraction = 0;
    o.seed = 7;
    o.precision = core::Precision::Fp32;
    o.validateEveryEpochs = 0;
    return o;
}

double maxAbsDifference(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (const auto& [name, t] : a) {
        REQUIRE(b.count(name) == 1);
        worst = std::max(worst, (t - b.at(name)).abs().max().item<double>());
    }
    return worst;
}

/// Runs `world` ranks of `o` as threads of this process on 127.0.0.1; their final weights.
std::vector<std::map<std::string, at::Tensor>> runRanks(const TrainOptions& o, int world,
                                                        std::vector<TrainResult>* results = nullptr) {
    const int port = freeLocalPort();
    std::vector<std::map<std::string, at::Tensor>> weights(static_cast<std::size_t>(world));
    std::vector<TrainResult> res(static_cast<std::size_t>(world));
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world));
    std::vector<std::thread> threads;
    for (int r = 0; r < world; ++r)
        threads.emplace_back([&, r] {
            try {
                DistributedOptions d;
                d.masterPort = port;
                d.rank = r;
                d.worldSize = world;
                d.timeout = std::chrono::seconds(20);
                auto mine = o;
                mine.distributed = connectProcessGroup(d);
                Trainer trainer(mine);
                res[std::size_t(r)] = trainer.run();
                weights[std::size_t(r)] = trainer.snapshotState();
            } catch (...) {
                errors[std::size_t(r)] = std::current_exception();
            }
        });
    for (auto& t : threads)
        t.join();
    for (auto& e : errors)
        if (e)
            std::rethrow_exception(e);
    if (results)
        *results = res;
    return weights;
}

} // namespace

TEST_CASE("two ranks with batch B each reach the weights of one process stepping on both batches",
          "[train][distributed]") {
    // What is compared: DDP semantics. Each rank mines triplets in its own P×K batch and the
    // step follows the mean of the two ranks' gradients. The reference is one process
    // drawing the same two P×K batches per step (accumulate = 2: batch 2s on rank 0, 2s+1
    // on rank 1), mining each on its own and averaging their gradients. (Mining over the
    // union of 2B images would be a different loss, not what DDP computes.)
    testutil::TempDir tmp("dist-equal");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    auto o = tinyOptions(tmp.path, tmp.path / "data");

    auto reference = o;
    reference.accumulate = 2;
    Trainer alone(reference);
    const auto aloneResult = alone.run();
    REQUIRE(aloneResult.steps == 4);
    const auto expected = alone.snapshotState();

    std::vector<TrainResult> results;
    const auto ranks = runRanks(o, 2, &results);
    REQUIRE(results[0].steps == 4);
    REQUIRE(results[1].steps == 4);
    CHECK(results[1].worldSize == 2);

    const double diff = maxAbsDifference(ranks[0], expected);
    WARN("max |w(2 ranks) - w(1 process, both batches)| = " << diff);
    CHECK(diff < 1e-5);
    CHECK(maxAbsDifference(ranks[0], ranks[1]) == 0.0); // the same averaged step on both

    // The comparison has power: the weights moved, and one batch per step goes elsewhere.
    std::map<std::string, at::Tensor> start;
    for (const auto& item : core::model::loadModel(o.model).model->named_parameters())
        start[item.key()] = item.value().detach().clone();
    CHECK(maxAbsDifference(ranks[0], start) > 1e-3);
    Trainer single(o);
    single.run();
    CHECK(maxAbsDifference(ranks[0], single.snapshotState()) > 1e-4);
}

TEST_CASE("ranks that disagree on the data set stop before training and say so", "[train][distributed]") {
    testutil::TempDir tmp("dist-disagree");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    testutil::linkFourBreeds(tmp.path / "more", 8);
    auto o = tinyOptions(tmp.path, tmp.path / "data");
    const int port = freeLocalPort();
    std::string messages[2];
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r)
        threads.emplace_back([&, r] {
            DistributedOptions d;
            d.masterPort = port;
            d.rank = r;
            d.worldSize = 2;
            d.timeout = std::chrono::seconds(20);
            auto mine = o;
            if (r == 1)
                mine.dataDir = tmp.path / "more";
            mine.distributed = connectProcessGroup(d);
            try {
                Trainer(mine).run();
            } catch (const core::Error& e) {
                messages[r] = e.what();
            }
        });
    for (auto& t : threads)
        t.join();
    for (const auto& m : messages)
        CHECK_THAT(m, Catch::Contains("ranks disagree on the training images"));
}
