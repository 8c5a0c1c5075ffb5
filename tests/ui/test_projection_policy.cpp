// The map and `vitrine-cli project` choose a projection's settings with one policy
// (core/analysis/projection.h's projectLayout): for the same embeddings and request, the
// same layout, to the bit, including on a set too small for the requested perplexity or
// neighbours and when continuing from a previous layout.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "../cli/cli_run.h"
#include "../support/temp_dir.h"
#include "core/common/job.h"
#include "core/io/npy.h"
#include "core/io/row_table.h"
#include "ui/job_runner.h"
#include "ui/workspace.h"

using vitrine::core::Matrix;
using vitrine::ui::ProjectionMethod;
using vitrine::ui::ProjectionSettings;
using vitrine::ui::Workspace;
namespace io = vitrine::core::io;

TEST_CASE("the map and vitrine-cli project compute the same layout for the same request", "[ui][map][projection]") {
    vitrine::testutil::TempDir tmp("projection-policy");
    // 12 rows in 3 clusters of 8-D: fewer than t-SNE's perplexity 30 or UMAP's 15
    // neighbours allow, so the policy's caps decide.
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    Matrix data(12, 8);
    for (std::int64_t i = 0; i < data.rows; ++i)
        for (std::int64_t j = 0; j < data.cols; ++j)
            data(i, j) = (j == i % 3 ? 5.0f : 0.0f) + 0.2f * normal(rng);
    const auto npy = tmp.path / "e.npy";
    io::writeNpyMatrix(npy, data);
    io::RowTable rows;
    rows.columns = {"path", "label"};
    for (int i = 0; i < data.rows; ++i)
        rows.rows.push_back(
            {"c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".jpg", "c" + std::to_string(i % 3)});
    io::writeRowTable(io::rowsSidecarPath(npy), rows);

    vitrine::core::CancelToken token;
    const vitrine::ui::JobRunner::Context ctx{token, {}};
    ProjectionSettings settings; // the map panel's defaults: perplexity 30, 750 iterations, 15 neighbours
    settings.seed = 5;
    Matrix previous; // each method continues from the PCA layout, as the map does while training
    struct Method {
        ProjectionMethod method;
        std::string flags;
    };
    const std::vector<Method> methods{
        {ProjectionMethod::Pca, "--method pca"},
        {ProjectionMethod::Tsne, "--method tsne --perplexity 30 --iterations 750"},
        {ProjectionMethod::Umap, "--method umap --neighbours 15 --min-dist 0.1"},
    };
    for (const bool continuing : {false, true}) {
        for (const auto& m : methods) {
            settings.method = m.method;
            const std::string args = "project --quiet --seed 5 --embeddings " + vitrine::testutil::q(npy) + " " +
                                     m.flags +
                                     (continuing ? " --init " + vitrine::testutil::q(tmp.path / "pca.npy") : "") +
                                     " --out " + vitrine::testutil::q(tmp.path / "cli.npy");
            INFO("vitrine-cli " << args);
            const Matrix map = Workspace::projectLayout(data, settings, continuing ? &previous : nullptr, ctx);
            const auto r = vitrine::testutil::cli(args, tmp.path);
            INFO(r.out << r.err);
            REQUIRE(r.code == 0);
            const Matrix cli = io::readNpyMatrix(tmp.path / "cli.npy");
            REQUIRE(cli.rows == map.rows);
            REQUIRE(cli.cols == map.cols);
            float largest = 0;
            for (std::int64_t i = 0; i < map.rows; ++i)
                for (std::int64_t j = 0; j < map.cols; ++j)
                    largest = std::max(largest, std::abs(map(i, j) - cli(i, j)));
            CHECK(largest == 0.0f);
            if (m.method == ProjectionMethod::Pca && !continuing) {
                previous = map;
                io::writeNpyMatrix(tmp.path / "pca.npy", previous);
            }
        }
    }
}
