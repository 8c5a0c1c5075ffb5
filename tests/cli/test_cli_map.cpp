// vitrine-cli neighbours / project / export on a small generated embeddings file.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>

#include "cli_run.h"
#include "core/common/files.h"
#include "core/io/csv.h"
#include "core/io/embedding_set.h"
#include "core/io/npy.h"

using namespace vitrine::core;
namespace fs = std::filesystem;

namespace {

using vitrine::testutil::cli;
using vitrine::testutil::q;

struct Fixture {
    fs::path dir, npy;
    Fixture() {
        dir = fs::temp_directory_path() /
              ("vitrine_cli_map_" + std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}()));
        fs::create_directories(dir);
        // 60 rows in 3 tight clusters of 16-D; rows i and i + 3 share a cluster.
        std::mt19937 rng(7);
        std::normal_distribution<float> normal;
        Matrix x(60, 16);
        for (std::int64_t i = 0; i < 60; ++i)
            for (std::int64_t j = 0; j < 16; ++j)
                x(i, j) = (j == i % 3 ? 10.0f : 0.0f) + 0.1f * normal(rng);
        npy = dir / "emb.npy";
        io::writeNpyMatrix(npy, x);
        io::RowTable rows;
        rows.columns = {"path", "label"};
        for (int i = 0; i < 60; ++i)
            rows.rows.push_back({"class" + std::to_string(i % 3) + "/img, " + std::to_string(i) + ".jpg",
                                 "class" + std::to_string(i % 3)});
        io::writeRowTable(io::rowsSidecarPath(npy), rows);
    }
    ~Fixture() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

std::vector<std::string> splitLines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

} // namespace

TEST_CASE("vitrine-cli neighbours prints rank, row, path, label, distance", "[cli][map]") {
    Fixture f;
    auto r = cli("neighbours --embeddings " + q(f.npy) + " --query 4 -k 5", f.dir);
    REQUIRE(r.code == 0);
    auto lines = splitLines(r.out);
    REQUIRE(lines.size() == 5);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::vector<std::string> fields;
        std::istringstream in(lines[i]);
        for (std::string fld; std::getline(in, fld, '\t');)
            fields.push_back(fld);
        REQUIRE(fields.size() == 5);
        REQUIRE(fields[0] == std::to_string(i + 1));
        const int row = std::stoi(fields[1]);
        REQUIRE(row != 4);
        REQUIRE(row % 3 == 1); // same cluster as row 4
        REQUIRE(fields[2] == "class1/img, " + std::to_string(row) + ".jpg");
        REQUIRE(fields[3] == "class1");
        REQUIRE(std::stod(fields[4]) < 0.05);
    }
    auto e = cli("neighbours --embeddings " + q(f.npy) + " --query 4 -k 3 --metric euclidean", f.dir);
    REQUIRE(e.code == 0);
    REQUIRE(splitLines(e.out).size() == 3);

    REQUIRE(cli("neighbours --embeddings " + q(f.npy) + " --query 60 -k 3", f.dir).code != 0);
    auto img = cli("neighbours --embeddings " + q(f.npy) + " --query some.jpg -k 3", f.dir);
    REQUIRE(img.code != 0);
    REQUIRE(readFile(f.dir / "stderr.txt").find("model") != std::string::npos);
}

TEST_CASE("vitrine-cli project writes [N, 2] coordinates", "[cli][map]") {
    Fixture f;
    REQUIRE(
        cli("project --quiet --embeddings " + q(f.npy) + " --method pca --out " + q(f.dir / "pca.npy"), f.dir).code ==
        0);
    auto pca = io::readNpyMatrix(f.dir / "pca.npy");
    REQUIRE(pca.rows == 60);
    REQUIRE(pca.cols == 2);
    REQUIRE(cli("project --quiet --embeddings " + q(f.npy) +
                    " --method tsne --perplexity 10 --iterations 300 --seed 1 --out " + q(f.dir / "t.csv"),
                f.dir)
                .code == 0);
    auto csv = io::parseCsv(readFile(f.dir / "t.csv"), "t.csv");
    REQUIRE(csv.size() == 61);
    REQUIRE(csv[0] == std::vector<std::string>{"path", "label", "x", "y"});
    REQUIRE(csv[1][0] == "class0/img, 0.jpg");
    REQUIRE(cli("project --quiet --embeddings " + q(f.npy) +
                    " --method umap --neighbors 8 --min-dist 0.2 --seed 2 --out " + q(f.dir / "u.npy"),
                f.dir)
                .code == 0);
    REQUIRE(io::readNpyMatrix(f.dir / "u.npy").rows == 60);
    REQUIRE(cli("project --embeddings " + q(f.npy) + " --method pca --out " + q(f.dir / "x.png"), f.dir).code != 0);
}

TEST_CASE("vitrine-cli export writes every format", "[cli][map]") {
    Fixture f;
    REQUIRE(
        cli("project --quiet --embeddings " + q(f.npy) + " --method pca --out " + q(f.dir / "pca.npy"), f.dir).code ==
        0);
    for (const std::string fmt : {"npy", "csv", "safetensors"}) {
        INFO(fmt);
        const fs::path out = f.dir / ("out." + fmt);
        auto r = cli("export --embeddings " + q(f.npy) + " --format " + fmt + " --coords " + q(f.dir / "pca.npy") +
                         " --out " + q(out),
                     f.dir);
        REQUIRE(r.code == 0);
        auto back = io::loadEmbeddingSet(out);
        REQUIRE(back.embeddings.rows == 60);
        REQUIRE(back.rows.value(5, "path") == "class2/img, 5.jpg");
    }
    auto r = cli("export --embeddings " + q(f.npy) + " --format projector --out " + q(f.dir / "bundle"), f.dir);
    REQUIRE(r.code == 0);
    for (const char* name : {"tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt"})
        REQUIRE(fs::exists(f.dir / "bundle" / name));
    REQUIRE(readFile(f.dir / "stderr.txt").find("60 images could not be read") != std::string::npos);
    REQUIRE(cli("export --embeddings " + q(f.npy) + " --format parquet --out " + q(f.dir / "x"), f.dir).code != 0);
}
