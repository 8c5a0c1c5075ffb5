#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/train/triplet.h"

using namespace vitrine::core::train;

namespace {

nlohmann::json loadFixture() {
    std::ifstream in(std::string(VITRINE_FIXTURES) + "/triplet_parity.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

torch::Tensor fromVector(const std::vector<float>& v, std::vector<std::int64_t> shape) {
    return torch::tensor(v, torch::kFloat32).reshape(shape).clone();
}

} // namespace

TEST_CASE("triplet loss and gradients match PyTorch for every miner and distance", "[train]") {
    auto fx = loadFixture();
    const auto b = fx["rows"].get<std::int64_t>();
    const auto dim = fx["dim"].get<std::int64_t>();
    auto emb = fromVector(fx["embeddings"].get<std::vector<float>>(), {b, dim});
    auto labels = torch::tensor(fx["labels"].get<std::vector<std::int64_t>>(), torch::kLong);
    REQUIRE(fx["cases"].size() == 16);
    for (const auto& c : fx["cases"]) {
        TripletLossOptions o;
        o.miner = parseMiner(c["miner"]);
        o.distance = parseDistance(c["distance"]);
        o.softMargin = c["soft"];
        o.margin = fx["margin"];
        INFO(c["miner"].get<std::string>() << " " << c["distance"].get<std::string>() << " soft=" << o.softMargin);
        auto e = emb.clone().requires_grad_(true);
        auto gen = at::make_generator<at::CPUGeneratorImpl>(c["seed"].get<std::uint64_t>());
        auto r = tripletLoss(e, labels, o, gen);
        r.loss.backward();
        CHECK(r.found == c["found"].get<std::int64_t>());
        CHECK(r.active == c["active"].get<std::int64_t>());
        CHECK(r.loss.item<double>() == Approx(c["loss"].get<double>()).margin(1e-5));
        auto expected = fromVector(c["grad"].get<std::vector<float>>(), {b, dim});
        REQUIRE(torch::isfinite(e.grad()).all().item<bool>());
        CHECK(torch::allclose(e.grad(), expected, /*rtol=*/1e-3, /*atol=*/1e-5));
    }
}

TEST_CASE("no valid triplet gives a zero loss with zero gradients, never NaN", "[train]") {
    for (auto miner : {Miner::BatchAll, Miner::BatchHard, Miner::SemiHard, Miner::Random}) {
        for (bool soft : {false, true}) {
            TripletLossOptions o;
            o.miner = miner;
            o.softMargin = soft;
            INFO(minerName(miner) << " soft=" << soft);
            // One class only: no negatives.
            auto e = torch::randn({6, 4}).requires_grad_(true);
            auto r = tripletLoss(e, torch::zeros({6}, torch::kLong), o);
            CHECK(r.found == 0);
            CHECK(r.active == 0);
            CHECK(r.loss.item<double>() == 0.0);
            r.loss.backward();
            CHECK(e.grad().abs().sum().item<double>() == 0.0);
            // All singletons: no positives.
            auto e2 = torch::randn({5, 4}).requires_grad_(true);
            auto r2 = tripletLoss(e2, torch::arange(5, torch::kLong), o);
            CHECK(r2.found == 0);
            CHECK(r2.loss.item<double>() == 0.0);
        }
    }
}

TEST_CASE("well separated classes leave no active triplet", "[train]") {
    auto e = torch::tensor({1.f, 0.f, 0.99f, 0.01f, 0.f, 1.f, 0.01f, 0.99f}).reshape({4, 2}).requires_grad_(true);
    auto labels = torch::tensor({0, 0, 1, 1}, torch::kLong);
    TripletLossOptions o;
    auto r = tripletLoss(e, labels, o);
    CHECK(r.found == 8);
    CHECK(r.active == 0);
    CHECK(r.loss.item<double>() == 0.0);
    r.loss.backward();
    CHECK(torch::isfinite(e.grad()).all().item<bool>());
    CHECK(r.meanNegative > r.meanPositive);
}

TEST_CASE("identical embeddings (collapse) give finite gradients and loss = margin", "[train]") {
    for (auto dist : {Distance::Euclidean, Distance::Cosine}) {
        auto e = torch::ones({8, 16}).requires_grad_(true);
        auto labels = torch::tensor({0, 0, 1, 1, 2, 2, 3, 3}, torch::kLong);
        TripletLossOptions o;
        o.distance = dist;
        auto r = tripletLoss(e, labels, o);
        CHECK(r.active == r.found);
        CHECK(r.loss.item<double>() == Approx(0.2).margin(1e-5));
        CHECK(r.meanPairwise < 1e-5);
        r.loss.backward();
        CHECK(torch::isfinite(e.grad()).all().item<bool>());
    }
}

TEST_CASE("miner and distance names round-trip and unknown names are refused", "[train]") {
    for (auto m : {Miner::BatchAll, Miner::BatchHard, Miner::SemiHard, Miner::Random})
        CHECK(parseMiner(minerName(m)) == m);
    CHECK(parseDistance("cosine") == Distance::Cosine);
    CHECK_THROWS_WITH(parseMiner("hardest"), Catch::Contains("batch-hard"));
    CHECK_THROWS(parseDistance("manhattan"));
}
