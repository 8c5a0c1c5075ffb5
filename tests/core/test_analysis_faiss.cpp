// The FAISS engine of NeighbourIndex (sets above NeighbourOptions::faissAbove), its index file
// beside the embeddings, and the memory-mapped .npy reader that feeds it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "analysis_test_data.h"
#include "core/analysis/faiss_ivf.h"
#include "core/analysis/neighbours.h"
#include "core/common/error.h"
#include "core/io/embedding_set.h"
#include "core/io/npy.h"

#include <catch2/catch.hpp>

using namespace vitrine::core;
using namespace vitrine::core::analysis;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name)
        : path(fs::temp_directory_path() / ("vitrine_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

// Rows [from, to) of m.
Matrix rowsOf(const Matrix& m, std::int64_t from, std::int64_t to) {
    Matrix out(to - from, m.cols);
    std::copy(m.row(from), m.row(to), out.data.begin());
    return out;
}

NeighbourOptions faissOptions(const fs::path& embeddings = {}) {
    NeighbourOptions o;
    o.forceFaiss = true;
    o.embeddingsFile = embeddings;
    o.threads = 2;
    return o;
}

} // namespace

TEST_CASE("FAISS IVF index finds at least 95% of the exact 10 nearest on 100,000 clustered vectors",
          "[analysis][neighbours][faiss]") {
    // 1,000 extra rows from the same clusters are the queries (not indexed).
    const auto all = vitrine::test::gaussianClusters(101'000, 48, 300, 2.0f, 7);
    const auto base = rowsOf(all, 0, 100'000);
    const auto queries = rowsOf(all, 100'000, 101'000);
    for (Metric metric : {Metric::Cosine, Metric::Euclidean}) {
        auto o = faissOptions();
        o.metric = metric;
        NeighbourIndex index(base, o);
        REQUIRE(index.engine() == NeighbourEngine::Faiss);
        REQUIRE(index.approximate());
        REQUIRE(index.nprobe() >= 1);
        const auto found = index.queryBatch(queries, 10);
        const auto truth = exactKnn(base, queries, 10, metric);
        const double recall = recallAtK(found, truth, 10);
        INFO("metric " << (metric == Metric::Cosine ? "cosine" : "euclidean") << ", nprobe " << index.nprobe()
                       << ", recall@10 " << recall);
        REQUIRE(recall >= 0.95);
        // Distances are in the metric's units, like the exact index's.
        REQUIRE(found[0][0].distance == Approx(truth[0][0].distance).margin(1e-4));
        // queryRow leaves the row itself out.
        const auto hits = index.queryRow(5, 10);
        REQUIRE(hits.size() == 10);
        REQUIRE(std::none_of(hits.begin(), hits.end(), [](const Neighbour& n) { return n.row == 5; }));
    }
}

TEST_CASE("the default engine is exact, then HNSW, then FAISS above faissAbove", "[analysis][neighbours][faiss]") {
    const auto x = vitrine::test::gaussianClusters(3000, 16, 10, 2.0f, 3);
    NeighbourOptions o;
    o.approximateAbove = 1000;
    o.faissAbove = 2000;
    REQUIRE(NeighbourIndex(x, o).engine() == NeighbourEngine::Faiss);
    o.faissAbove = 5000;
    REQUIRE(NeighbourIndex(x, o).engine() == NeighbourEngine::Hnsw);
    o.approximateAbove = 5000;
    REQUIRE(NeighbourIndex(x, o).engine() == NeighbourEngine::Exact);
}

TEST_CASE("the FAISS index is saved beside the embeddings, reused while they match, rebuilt when stale",
          "[analysis][neighbours][faiss]") {
    TempDir dir("faiss_file");
    const fs::path emb = dir.path / "emb.npy";
    const auto x = vitrine::test::gaussianClusters(20'000, 32, 40, 2.0f, 11);
    io::writeNpyMatrix(emb, x);
    const fs::path saved = faissIndexPath(emb);
    REQUIRE(saved == dir.path / "emb.npy.faiss");

    std::vector<Neighbour> first;
    {
        NeighbourIndex built(io::mapNpyMatrix(emb), faissOptions(emb));
        REQUIRE(built.indexFileStatus() == IndexFileStatus::Saved);
        REQUIRE(fs::exists(saved));
        first = built.queryRow(17, 10);
    }
    int progressCalls = 0;
    {
        // The same file again: loaded, not built (no IndexTraining stage is reported).
        bool trained = false;
        NeighbourIndex reused(io::mapNpyMatrix(emb), faissOptions(emb), [&](long long, long long, const Stage& stage) {
            ++progressCalls;
            trained = trained || stage.kind == StageKind::IndexTraining;
        });
        REQUIRE(reused.indexFileStatus() == IndexFileStatus::Reused);
        REQUIRE_FALSE(trained);
        const auto again = reused.queryRow(17, 10);
        REQUIRE(again.size() == first.size());
        for (std::size_t i = 0; i < again.size(); ++i) {
            REQUIRE(again[i].row == first[i].row);
            REQUIRE(again[i].distance == Approx(first[i].distance).margin(1e-6));
        }
    }
    REQUIRE(progressCalls >= 1);
    SECTION("another metric is another index") {
        auto o = faissOptions(emb);
        o.metric = Metric::Euclidean;
        REQUIRE(NeighbourIndex(io::mapNpyMatrix(emb), o).indexFileStatus() == IndexFileStatus::Saved);
        REQUIRE(NeighbourIndex(io::mapNpyMatrix(emb), o).indexFileStatus() == IndexFileStatus::Reused);
    }
    SECTION("embeddings rewritten (same size, new content) make it stale") {
        auto y = x;
        std::copy(y.row(0), y.row(1), y.row(17)); // row 17 is now a copy of row 0
        io::writeNpyMatrix(emb, y);
        fs::last_write_time(emb, fs::last_write_time(emb) + std::chrono::seconds(5));
        NeighbourIndex rebuilt(io::mapNpyMatrix(emb), faissOptions(emb));
        REQUIRE(rebuilt.indexFileStatus() == IndexFileStatus::Saved);
        const auto hits = rebuilt.queryRow(0, 1);
        // The new content is indexed: row 0's nearest is its copy (a stale index would not know).
        REQUIRE(hits.front().row == 17);
        REQUIRE(hits.front().distance == Approx(0.0f).margin(1e-5));
        REQUIRE(NeighbourIndex(io::mapNpyMatrix(emb), faissOptions(emb)).indexFileStatus() == IndexFileStatus::Reused);
    }
    SECTION("a damaged index file is rebuilt and replaced") {
        fs::resize_file(saved, fs::file_size(saved) / 2);
        REQUIRE(NeighbourIndex(io::mapNpyMatrix(emb), faissOptions(emb)).indexFileStatus() == IndexFileStatus::Saved);
        REQUIRE(NeighbourIndex(io::mapNpyMatrix(emb), faissOptions(emb)).indexFileStatus() == IndexFileStatus::Reused);
    }
    SECTION("a folder it cannot write to leaves a usable index and says why") {
        fs::remove(saved);
        fs::create_directory(saved); // the target is a directory: the atomic write fails
        NeighbourIndex index(io::mapNpyMatrix(emb), faissOptions(emb));
        REQUIRE(index.indexFileStatus() == IndexFileStatus::SaveFailed);
        REQUIRE_THAT(index.indexFileMessage(), Catch::Contains("emb.npy.faiss"));
        REQUIRE(index.queryRow(17, 10).size() == 10);
    }
}

TEST_CASE("cancelling a FAISS build throws Cancelled and saves nothing", "[analysis][neighbours][faiss]") {
    TempDir dir("faiss_cancel");
    const fs::path emb = dir.path / "emb.npy";
    io::writeNpyMatrix(emb, vitrine::test::gaussianClusters(5000, 16, 10, 2.0f, 5));
    CancelToken cancel;
    cancel.cancel();
    REQUIRE_THROWS_AS(NeighbourIndex(io::mapNpyMatrix(emb), faissOptions(emb), {}, &cancel), Cancelled);
    REQUIRE_FALSE(fs::exists(faissIndexPath(emb)));
}

TEST_CASE("a memory-mapped .npy holds the values the reader reads", "[io][npy][mmap]") {
    TempDir dir("npy_mmap");
    const auto x = vitrine::test::gaussianClusters(333, 17, 4, 2.0f, 9);
    const fs::path f4 = dir.path / "x.npy";
    io::writeNpyMatrix(f4, x);
    bool mapped = false;
    const auto view = io::mapNpyMatrix(f4, &mapped);
    REQUIRE(mapped);
    const auto read = io::readNpyMatrix(f4);
    REQUIRE(view.rows == read.rows);
    REQUIRE(view.cols == read.cols);
    REQUIRE(std::equal(view.data, view.data + view.rows * view.cols, read.data.begin()));
    REQUIRE(std::equal(read.data.begin(), read.data.end(), x.data.begin()));

    // float64 cannot be used in place: read and converted, into memory the view owns.
    std::string preamble = io::npyMatrixPreamble(x.rows, x.cols);
    preamble.replace(preamble.find("<f4"), 3, "<f8");
    const fs::path f8 = dir.path / "x64.npy";
    {
        std::ofstream out(f8, std::ios::binary);
        out << preamble;
        for (float v : x.data) {
            const double d = v;
            out.write(reinterpret_cast<const char*>(&d), sizeof d);
        }
    }
    const auto view64 = io::mapNpyMatrix(f8, &mapped);
    REQUIRE_FALSE(mapped);
    REQUIRE(std::equal(view64.data, view64.data + view64.rows * view64.cols, x.data.begin()));

    // The loader the CLI's neighbours command uses maps it too, with its rows.
    const auto set = io::openEmbeddingSet(f4);
    REQUIRE(set.embeddings.rows == 333);
    REQUIRE(set.rows.size() == 333);
    REQUIRE(set.embeddings(5, 3) == x(5, 3));
}

TEST_CASE("a truncated .npy is refused by the mapping reader, naming the file", "[io][npy][mmap]") {
    TempDir dir("npy_trunc");
    const fs::path f = dir.path / "cut.npy";
    io::writeNpyMatrix(f, vitrine::test::gaussianClusters(100, 8, 2, 2.0f, 1));
    fs::resize_file(f, fs::file_size(f) - 6);
    REQUIRE_THROWS_WITH(io::mapNpyMatrix(f), Catch::Contains("cut.npy") && Catch::Contains("truncated"));
    fs::resize_file(f, 40); // inside the header
    REQUIRE_THROWS_WITH(io::mapNpyMatrix(f), Catch::Contains("cut.npy") && Catch::Contains("truncated"));
    REQUIRE_THROWS_WITH(io::mapNpyMatrix(dir.path / "missing.npy"), Catch::Contains("missing.npy"));
}

TEST_CASE("FAISS IVF on structureless data probes at most an eighth of its cells and reports the recall",
          "[analysis][neighbours][faiss]") {
    // Uniform Gaussian rows (one cluster, wide spread): no cell structure for IVF to use. The
    // recall target would take every cell (slower than exact search); the cap keeps it fast and
    // the probed recall says what users get.
    const auto base = vitrine::test::gaussianClusters(20'000, 32, 1, 10.0f, 3);
    NeighbourIndex index(base, faissOptions());
    REQUIRE(index.engine() == NeighbourEngine::Faiss);
    FaissIvfIndex direct(base, faissOptions(), {}, nullptr);
    INFO("nlist " << direct.nlist() << ", nprobe " << direct.nprobe() << ", probed recall " << direct.probedRecall());
    CHECK(direct.nprobe() <= std::max(1, direct.nlist() / 8));
    CHECK(index.nprobe() == direct.nprobe());
    CHECK(index.probedRecall() >= 0.0);
    CHECK(index.probedRecall() < 0.97); // the target was out of reach, and the figure says so
}

TEST_CASE("the kNN graph of a FAISS index (IVF self-join) matches exact search for both metrics",
          "[analysis][neighbours][faiss][graph]") {
    // What t-SNE and UMAP start from above faissAbove rows: every row's k nearest other rows.
    const auto base = vitrine::test::gaussianClusters(30'000, 48, 200, 2.0f, 11);
    const int k = 14;
    for (Metric metric : {Metric::Cosine, Metric::Euclidean}) {
        auto o = faissOptions();
        o.metric = metric;
        NeighbourIndex index(base, o);
        REQUIRE(index.engine() == NeighbourEngine::Faiss);
        std::vector<std::pair<long long, StageKind>> reports;
        const auto graph = index.allRows(k, [&](long long done, long long total, const Stage& stage) {
            reports.emplace_back(done, stage.kind);
            CHECK(total == base.rows);
        });
        REQUIRE(graph.size() == static_cast<std::size_t>(base.rows));
        const auto truth = exactKnn(base, base, k, metric, /*excludeSelf=*/true);
        const double recall = recallAtK(graph, truth, k);
        INFO("metric " << (metric == Metric::Cosine ? "cosine" : "euclidean") << ", recall@" << k << " " << recall);
        CHECK(recall >= 0.95);
        std::size_t wrongDistance = 0, unsorted = 0, self = 0, shortLists = 0;
        for (std::int64_t i = 0; i < base.rows; ++i) {
            const auto& list = graph[static_cast<std::size_t>(i)];
            shortLists += list.size() != static_cast<std::size_t>(k);
            for (std::size_t j = 0; j < list.size(); ++j) {
                self += list[j].row == i;
                unsorted += j > 0 && list[j].distance < list[j - 1].distance - 1e-5f;
                // The distance is the metric's, recomputed here from the rows.
                double dot = 0, na = 0, nb = 0, d2 = 0;
                for (std::int64_t c = 0; c < base.cols; ++c) {
                    const double a = base(i, c), b = base(list[j].row, c);
                    dot += a * b, na += a * a, nb += b * b, d2 += (a - b) * (a - b);
                }
                const double want = metric == Metric::Cosine ? 1.0 - dot / std::sqrt(na * nb) : std::sqrt(d2);
                wrongDistance += std::abs(list[j].distance - want) > 1e-3 * std::max(1.0, want);
            }
        }
        CHECK(shortLists == 0);
        CHECK(self == 0);
        CHECK(unsorted == 0);
        CHECK(wrongDistance == 0);
        // The flat graph t-SNE and UMAP use holds the same lists, 8 bytes an edge.
        const KnnGraph flat = index.graph(k);
        REQUIRE(flat.rows == base.rows);
        REQUIRE(flat.k == k);
        CHECK(flat.ids.size() == static_cast<std::size_t>(base.rows * k));
        std::size_t differ = 0;
        for (std::int64_t i = 0; i < base.rows; ++i) {
            const auto& list = graph[static_cast<std::size_t>(i)];
            differ += flat.count(i) != static_cast<int>(list.size());
            for (std::size_t j = 0; j < list.size() && j < static_cast<std::size_t>(flat.count(i)); ++j)
                differ += flat.idsOf(i)[j] != list[j].row || flat.distancesOf(i)[j] != list[j].distance;
        }
        CHECK(differ == 0);
        // Progress in rows, ending at all of them.
        REQUIRE_FALSE(reports.empty());
        CHECK(reports.back().first == base.rows);
        CHECK(reports.back().second == StageKind::Neighbours);
    }
}

TEST_CASE("a flat kNN graph pads short lists and round-trips through Neighbour lists",
          "[analysis][neighbours][graph]") {
    // Exact and HNSW engines: graph() holds what allRows() returns.
    for (bool approximate : {false, true}) {
        const auto base = vitrine::test::gaussianClusters(approximate ? 3'000 : 400, 16, 10, 2.0f, 3);
        NeighbourOptions o;
        o.forceApproximate = approximate;
        o.forceExact = !approximate;
        NeighbourIndex index(base, o);
        CHECK(index.engine() == (approximate ? NeighbourEngine::Hnsw : NeighbourEngine::Exact));
        const auto lists = index.allRows(7);
        const auto flat = index.graph(7);
        REQUIRE(flat.rows == base.rows);
        std::size_t differ = 0;
        for (std::int64_t i = 0; i < base.rows; ++i) {
            const auto& list = lists[static_cast<std::size_t>(i)];
            differ += flat.count(i) != static_cast<int>(list.size());
            for (std::size_t j = 0; j < list.size(); ++j)
                differ += flat.idsOf(i)[j] != list[j].row || flat.distancesOf(i)[j] != list[j].distance;
        }
        INFO((approximate ? "HNSW" : "exact"));
        CHECK(differ == 0);
    }
    // Lists shorter than k are padded with -1 and come back at their own length.
    std::vector<std::vector<Neighbour>> lists{{{1, 0.1f}, {2, 0.2f}}, {}, {{0, 0.5f}}};
    const auto g = KnnGraph::fromLists(lists, 3);
    CHECK(g.count(0) == 2);
    CHECK(g.count(1) == 0);
    CHECK(g.count(2) == 1);
    CHECK(g.idsOf(0)[2] == -1);
    const auto back = g.lists();
    REQUIRE(back.size() == 3);
    CHECK(back[0].size() == 2);
    CHECK(back[0][1].row == 2);
    CHECK(back[0][1].distance == 0.2f);
    CHECK(back[1].empty());
    CHECK(back[2].front().distance == 0.5f);
}

TEST_CASE("the kNN graph of a FAISS index can be cancelled", "[analysis][neighbours][faiss][graph]") {
    const auto base = vitrine::test::gaussianClusters(20'000, 32, 50, 2.0f, 5);
    NeighbourIndex index(base, faissOptions());
    CancelToken cancel;
    int calls = 0;
    REQUIRE_THROWS_AS(index.allRows(
                          10,
                          [&](long long, long long, const vitrine::core::Stage&) {
                              if (++calls == 3)
                                  cancel.cancel();
                          },
                          &cancel),
                      Cancelled);
}

TEST_CASE("streaming readers leave a memory-mapped file's pages to the page cache", "[io][npy][mmap]") {
    TempDir dir("npy_release");
    const auto x = vitrine::test::gaussianClusters(40'000, 128, 8, 2.0f, 4); // 20 MB
    const fs::path f = dir.path / "x.npy";
    io::writeNpyMatrix(f, x);
    const auto view = io::mapNpyMatrix(f);
    REQUIRE(view.fileBacked);
    // This process's resident file-backed pages (kB).
    auto rssFileKb = [] {
        std::ifstream status("/proc/self/status");
        std::string key;
        long long kb = -1;
        while (status >> key)
            if (key == "RssFile:" && (status >> kb))
                break;
        return kb;
    };
    double sum = 0;
    for (std::int64_t i = 0; i < view.rows; ++i)
        for (std::int64_t c = 0; c < view.cols; c += 256 / static_cast<std::int64_t>(sizeof(float)))
            sum += view(i, c); // every page touched
    const long long touched = rssFileKb();
    view.releasePages(0, view.rows);
    const long long released = rssFileKb();
    INFO("RssFile " << touched << " kB touched, " << released << " kB after releasing");
    CHECK(touched - released > 15'000); // most of the 20 MB left the resident set
    // The values are still there: read back from the page cache on the next touch.
    double again = 0;
    for (std::int64_t i = 0; i < view.rows; ++i)
        for (std::int64_t c = 0; c < view.cols; c += 256 / static_cast<std::int64_t>(sizeof(float)))
            again += view(i, c);
    CHECK(again == sum);
    CHECK(std::equal(view.data, view.data + view.rows * view.cols, x.data.begin()));
    // A view of memory is never released (its data would be lost).
    const MatrixView memory(x);
    REQUIRE_FALSE(memory.fileBacked);
    memory.releasePages(0, memory.rows);
    CHECK(std::equal(memory.data, memory.data + memory.rows * memory.cols, x.data.begin()));
}
