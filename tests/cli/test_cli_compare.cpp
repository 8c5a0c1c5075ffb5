#include <catch2/catch.hpp>

#include "cli_run.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/temp_dir.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_set.h"
#include "core/io/npy.h"

using vitrine::testutil::cli;
using vitrine::testutil::q;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

/// A small cat/dog set: the first photo of the first `breeds` breeds of each species.
fs::path smallPets(const fs::path& root, std::size_t breeds) {
    for (const std::string species : {"cat", "dog"}) {
        std::vector<fs::path> dirs;
        for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / species))
            if (e.is_directory())
                dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());
        fs::create_directories(root / species);
        for (std::size_t i = 0; i < breeds && i < dirs.size(); ++i) {
            std::vector<fs::path> files;
            for (const auto& e : fs::directory_iterator(dirs[i]))
                if (e.path().extension() == ".jpg")
                    files.push_back(e.path());
            std::sort(files.begin(), files.end());
            for (std::size_t j = 0; j < 2 && j < files.size(); ++j)
                fs::copy_file(files[j], root / species / files[j].filename());
        }
    }
    return root;
}

} // namespace

// Two real models: the pet-trained `default` against its pretrained backbone.
TEST_CASE("compare two real models on real photos: overlaps, classes, most changed first", "[cli][compare]") {
    TempDir tmp("cli-compare");
    const auto data = smallPets(tmp / "pets", 6); // 24 photos
    auto r = cli("--threads 2 compare --data " + q(data) +
                     " --model default --model vit-tiny-16-augreg -k 5 --label-level 0 --json",
                 tmp.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    INFO(j.dump(1));
    CHECK(j.at("k") == 5);
    CHECK(j.at("images") == 24);
    CHECK(j.at("a").at("dims").get<int>() > 0);
    const double mean = j.at("mean_overlap").get<double>();
    CHECK(mean > 0.0);
    CHECK(mean < 1.0); // a fine-tuned head does change neighbourhoods
    CHECK(j.at("per_class").size() == 2);
    CHECK((j.at("per_class").at("cat").get<double>() + j.at("per_class").at("dog").get<double>()) / 2 ==
          Approx(mean)); // equal class sizes
    const double residual = j.at("procrustes_residual").get<double>();
    CHECK(residual > 0.0);
    CHECK(residual <= 1.0);
    const auto& changed = j.at("changed");
    REQUIRE(!changed.empty());
    double previous = -1;
    for (const auto& c : changed) {
        const double o = c.at("overlap").get<double>();
        CHECK(o >= previous);
        CHECK(o < 1.0);
        previous = o;
        // Each neighbour only one model has is made up for by one only the other has.
        CHECK(c.at("only_a").size() == c.at("only_b").size());
        CHECK(c.at("only_a").size() == std::size_t(std::lround(5 * (1 - o))));
        CHECK(fs::exists(data / c.at("path").get<std::string>()));
        CHECK(c.at("label") == c.at("path").get<std::string>().substr(0, 3));
    }

    // The table says the same.
    auto table = cli(
        "--threads 2 compare --data " + q(data) + " --model default --model vit-tiny-16-augreg -k 5 --top 3", tmp.path);
    REQUIRE(table.code == 0);
    CHECK(table.out.find("Mean neighbourhood overlap: ") != std::string::npos);
    CHECK(table.out.find(changed[0].at("path").get<std::string>()) != std::string::npos);
    CHECK(table.out.find("Procrustes residual") != std::string::npos);
}

TEST_CASE("compare reads two embeddings files, matching their rows by path", "[cli][compare]") {
    TempDir tmp("cli-compare-files");
    const auto data = smallPets(tmp / "pets", 3); // 12 photos
    auto emb = cli("--threads 2 embed --model vit-micro --data " + q(data) + " --out " + q(tmp / "a.npy"), tmp.path);
    INFO(emb.err);
    REQUIRE(emb.code == 0);
    // B: the same embeddings, rows reversed (rows and sidecar together).
    auto set = vitrine::core::io::loadEmbeddingSet(tmp / "a.npy");
    auto b = set;
    std::reverse(b.rows.rows.begin(), b.rows.rows.end());
    for (std::int64_t i = 0; i < set.embeddings.rows; ++i)
        std::copy_n(set.embeddings.row(i), set.embeddings.cols, b.embeddings.row(set.embeddings.rows - 1 - i));
    vitrine::core::io::writeNpyMatrix(tmp / "b.npy", b.embeddings);
    vitrine::core::io::writeRowTable(vitrine::core::io::rowsSidecarPath(tmp / "b.npy"), b.rows);

    auto r = cli("compare --data " + q(data) + " --embeddings " + q(tmp / "a.npy") + " --embeddings " +
                     q(tmp / "b.npy") + " -k 3 --json",
                 tmp.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("images") == 12);
    CHECK(j.at("mean_overlap").get<double>() == Approx(1.0));
    CHECK(j.at("changed").empty());
    CHECK(j.at("procrustes_residual").get<double>() < 1e-6);

    // One model is not a comparison: a usage error.
    auto one = cli("compare --data " + q(data) + " --model vit-micro", tmp.path);
    CHECK(one.code == 2);
    CHECK(one.err.find("two models") != std::string::npos);
    CHECK(one.out.empty());
}
