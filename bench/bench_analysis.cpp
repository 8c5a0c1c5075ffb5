// Analysis benchmarks (issue 6): one workload per run, one JSON line per result, like the
// Python peers in shared/bench/peers (w3_knn.py, w4_proj.py).
//
//   bench_analysis pca   [--n 100000] [--d 384] [--clusters 10]
//   bench_analysis tsne  [--n 10000] [--iterations 1000]
//   bench_analysis umap  [--n 10000]
//   bench_analysis exact [--n 100000] [--nq 1000]          (L2-normalised Gaussian, cosine = IP)
//   bench_analysis hnsw  [--n 100000] [--nq 1000] [--clusters 100] [--ef 0 (auto)] [--m 16]
//   bench_analysis graph --data F.npy [--k 14] [--metric euclidean|cosine] [--nq 1000]
//                        (issue 20: the kNN graph t-SNE and UMAP start from, of a memory-mapped
//                        file: index build, graph time, recall@k of nq rows vs exact, peak RSS)
//   bench_analysis project --data F.npy [--method umap|tsne|pca] [--iterations 0] [--out Y.npy]
//                        (issue 20: projectLayout over the mapped file, stage times, peak RSS)
//   bench_analysis audit [--n 10000] [--d 384] [--clusters 37] [--k 10]   (W8: duplicates,
//                        leakage, mislabels, outliers from embeddings; pixels not hashed)
//   bench_analysis w7    [--n 1000000] [--d 384] [--clusters 1000] [--nq 1000] [--engine faiss|hnsw]
//                        [--nlist 0 (auto)] [--nprobe 0 (auto)] [--file /tmp/vitrine_w7.npy] [--keep]
//                        (issue 20: clustered float32 rows written as .npy, memory-mapped,
//                        indexed; build s, queries/s, recall@10 vs exact, peak RSS; then the
//                        saved FAISS index reopened)
// Common: --threads T (0 = all), --repeats R, --seed S, --data X.npy (instead of generated
// data; exact and hnsw also take --queries Q.npy), --trust (also report trustworthiness@10
// for projections). Besides the detailed line, prints bench/report.py's lines
// ({"workload": "W3"/"W4", "case", "side", "value", "unit", ...}; hnsw: build and search).
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/bench_common.h"
#include "core/analysis/audit.h"
#include "core/analysis/neighbours.h"
#include "core/analysis/projection.h"
#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/io/npy.h"

using namespace vitrine::core;
using namespace vitrine::core::analysis;

namespace {

Matrix clustered(std::int64_t n, std::int64_t d, int k, float spread, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    Matrix centres(k, d);
    for (float& v : centres.data)
        v = spread * normal(rng);
    Matrix x(n, d);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < d; ++j)
            x(i, j) = centres(i % k, j) + normal(rng);
    return x;
}

long peakRssMiB() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024; // KiB on Linux
}

/// Streams n clustered rows (centres spread * N(0, I), unit noise, row i in cluster i % k) to
/// `file` as .npy a block at a time, so generating 1.5 GB does not hold it in memory; the
/// next nq draws of the same mixture are returned as queries.
Matrix writeClusteredNpy(const std::filesystem::path& file, std::int64_t n, std::int64_t d, int k, float spread,
                         std::int64_t nq, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    Matrix centres(k, d);
    for (float& v : centres.data)
        v = spread * normal(rng);
    std::ofstream out(file, std::ios::binary);
    out << io::npyMatrixPreamble(n, d);
    Matrix block(std::min<std::int64_t>(n, 16384), d);
    for (std::int64_t start = 0; start < n; start += block.rows) {
        const std::int64_t rows = std::min(block.rows, n - start);
        for (std::int64_t i = 0; i < rows; ++i)
            for (std::int64_t j = 0; j < d; ++j)
                block(i, j) = centres((start + i) % k, j) + normal(rng);
        out.write(reinterpret_cast<const char*>(block.data.data()),
                  static_cast<std::streamsize>(rows * d * sizeof(float)));
    }
    if (!out.flush())
        throw Error(file, "could not write the benchmark data");
    Matrix q(nq, d);
    for (std::int64_t i = 0; i < nq; ++i)
        for (std::int64_t j = 0; j < d; ++j)
            q(i, j) = centres((n + i) % k, j) + normal(rng);
    return q;
}

Matrix unitGaussian(std::int64_t n, std::int64_t d, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    Matrix x(n, d);
    for (std::int64_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::int64_t j = 0; j < d; ++j) {
            x(i, j) = normal(rng);
            s += double(x(i, j)) * x(i, j);
        }
        for (std::int64_t j = 0; j < d; ++j)
            x(i, j) = static_cast<float>(x(i, j) / std::sqrt(s));
    }
    return x;
}

double seconds(const std::chrono::steady_clock::time_point& t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// User + system CPU seconds of this process: on a shared machine, wall time alone says
// more about the neighbours than about the code.
double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    ensureFastBlas(argc, argv);
    if (argc < 2) {
        std::cerr << "usage: bench_analysis pca|tsne|umap|exact|hnsw|audit|w7|graph|project [options]\n";
        return 2;
    }
    const std::string workload = argv[1];
    std::map<std::string, std::string> opt;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0) {
            if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
                opt[a.substr(2)] = argv[++i];
            else
                opt[a.substr(2)] = "1";
        }
    }
    auto num = [&](const std::string& k, double def) { return opt.count(k) ? std::stod(opt[k]) : def; };
    setComputeThreads(static_cast<int>(num("threads", 0)));
    const int repeats = static_cast<int>(num("repeats", workload == "pca" || workload == "exact" ? 3 : 1));
    const auto seed = static_cast<std::uint64_t>(num("seed", 0));
    nlohmann::json out{{"workload", workload}, {"threads", computeThreads()}};

    if (workload == "pca" || workload == "tsne" || workload == "umap") {
        const auto n = static_cast<std::int64_t>(num("n", workload == "pca" ? 100000 : 10000));
        Matrix x = opt.count("data") ? io::readNpyMatrix(opt["data"])
                                     : clustered(n, static_cast<std::int64_t>(num("d", 384)),
                                                 static_cast<int>(num("clusters", 10)), 4.0f, seed);
        std::vector<double> secs;
        Matrix y;
        const double cpu0 = cpuSeconds();
        for (int r = 0; r < repeats; ++r) {
            auto t0 = std::chrono::steady_clock::now();
            if (workload == "pca") {
                y = pca(x);
            } else if (workload == "tsne") {
                TsneOptions o;
                o.iterations = static_cast<int>(num("iterations", 1000));
                o.seed = seed;
                y = tsne(x, o);
            } else {
                UmapOptions o;
                o.seed = seed;
                y = umap(x, o);
            }
            secs.push_back(seconds(t0));
        }
        out["n"] = x.rows;
        out["d"] = x.cols;
        out["seconds"] = secs;
        out["median_s"] = median(secs);
        out["cpu_s_per_run"] = (cpuSeconds() - cpu0) / repeats;
        if (opt.count("trust"))
            out["trustworthiness@10"] = trustworthiness(x, y, 10);
    } else if (workload == "exact" || workload == "hnsw") {
        const auto n = static_cast<std::int64_t>(num("n", 100000));
        const auto nq = static_cast<std::int64_t>(num("nq", 1000));
        const int k = 10;
        Matrix x, q;
        if (workload == "exact") {
            x = opt.count("data") ? io::readNpyMatrix(opt["data"]) : unitGaussian(n, 384, 0);
            q = opt.count("queries") ? io::readNpyMatrix(opt["queries"]) : unitGaussian(nq, 384, 1);
        } else if (opt.count("data")) {
            x = io::readNpyMatrix(opt["data"]);
            q = io::readNpyMatrix(opt["queries"]);
        } else {
            const int clusters = static_cast<int>(num("clusters", 100));
            // Queries come from the same mixture (different draws), like real lookups.
            Matrix both = clustered(n + nq, 384, clusters, static_cast<float>(num("spread", 4.0)), seed);
            x = Matrix(n, 384);
            q = Matrix(nq, 384);
            std::copy_n(both.data.begin(), x.data.size(), x.data.begin());
            std::copy_n(both.data.begin() + static_cast<std::ptrdiff_t>(x.data.size()), q.data.size(), q.data.begin());
        }
        NeighbourOptions o;
        o.metric = Metric::Cosine;
        if (workload == "exact")
            o.forceExact = true;
        else {
            o.forceApproximate = true;
            o.hnswM = static_cast<int>(num("m", 16));
            o.hnswEfConstruction = static_cast<int>(num("efc", 200));
            o.hnswEfSearch = static_cast<int>(num("ef", 0)); // 0 = automatic (recall probe)
        }
        auto t0 = std::chrono::steady_clock::now();
        NeighbourIndex index(x, o);
        out["build_s"] = seconds(t0);
        std::vector<double> secs;
        std::vector<std::vector<Neighbour>> found;
        for (int r = 0; r < std::max(1, repeats); ++r) {
            t0 = std::chrono::steady_clock::now();
            found = index.queryBatch(q, k);
            secs.push_back(seconds(t0));
        }
        out["n"] = x.rows;
        out["nq"] = q.rows;
        out["search_s"] = secs;
        out["queries_per_s"] = static_cast<double>(q.rows) / median(secs);
        if (workload == "hnsw") {
            auto truth = exactKnn(x, q, k, Metric::Cosine);
            out["recall@10"] = recallAtK(found, truth, k);
            out["M"] = o.hnswM;
            out["ef_construction"] = o.hnswEfConstruction;
            out["ef"] = index.efSearch();
            out["probed_recall@10"] = index.probedRecall();
        }
    } else if (workload == "w7") {
        const auto n = static_cast<std::int64_t>(num("n", 1'000'000));
        const auto d = static_cast<std::int64_t>(num("d", 384));
        const auto nq = static_cast<std::int64_t>(num("nq", 1000));
        const std::string engine = opt.count("engine") ? opt["engine"] : "faiss";
        const std::filesystem::path file = opt.count("file") ? opt["file"] : "/tmp/vitrine_w7.npy";
        const int k = 10;
        auto t0 = std::chrono::steady_clock::now();
        const Matrix q = writeClusteredNpy(file, n, d, static_cast<int>(num("clusters", 1000)),
                                           static_cast<float>(num("spread", 4.0)), nq, seed);
        out["write_s"] = seconds(t0);
        out["file_bytes"] = std::filesystem::file_size(file);
        std::filesystem::remove(faissIndexPath(file));
        t0 = std::chrono::steady_clock::now();
        bool mapped = false;
        const MatrixView x = io::mapNpyMatrix(file, &mapped);
        out["map_s"] = seconds(t0);
        out["mapped"] = mapped;
        out["peak_rss_mib_before_build"] = peakRssMiB();
        NeighbourOptions o;
        o.metric = Metric::Cosine;
        if (engine == "hnsw") {
            o.forceApproximate = true;
        } else {
            o.forceFaiss = true;
            o.faissNlist = static_cast<int>(num("nlist", 0));
            o.faissNprobe = static_cast<int>(num("nprobe", 0));
            o.embeddingsFile = file;
        }
        t0 = std::chrono::steady_clock::now();
        std::vector<std::vector<Neighbour>> found;
        {
            NeighbourIndex index(x, o);
            out["build_s"] = seconds(t0);
            out["peak_rss_mib_after_build"] = peakRssMiB();
            std::vector<double> secs;
            for (int r = 0; r < std::max(1, repeats); ++r) {
                t0 = std::chrono::steady_clock::now();
                found = index.queryBatch(q, k);
                secs.push_back(seconds(t0));
            }
            out["search_s"] = secs;
            out["queries_per_s"] = static_cast<double>(q.rows) / median(secs);
            out["ef"] = index.efSearch();
            out["nprobe"] = index.nprobe();
            out["probed_recall@10"] = index.probedRecall();
            out["peak_rss_mib_after_search"] = peakRssMiB();
        }
        if (engine != "hnsw") {
            // The second open finds the saved index beside the file.
            t0 = std::chrono::steady_clock::now();
            NeighbourIndex again(x, o);
            out["reopen_s"] = seconds(t0);
            out["reopen_reused"] = again.indexFileStatus() == IndexFileStatus::Reused;
            out["index_file_bytes"] = std::filesystem::file_size(faissIndexPath(file));
        }
        // Exact truth last: it copies the rows, which would spoil the RSS figures above.
        t0 = std::chrono::steady_clock::now();
        const auto truth = exactKnn(x, q, k, Metric::Cosine);
        out["exact_s"] = seconds(t0);
        out["recall@10"] = recallAtK(found, truth, k);
        out["n"] = n;
        out["d"] = d;
        out["nq"] = nq;
        out["engine"] = engine;
        if (!opt.count("keep")) {
            std::filesystem::remove(file);
            std::filesystem::remove(faissIndexPath(file));
        }
    } else if (workload == "graph" || workload == "project") {
        // A memory-mapped file's kNN graph (what t-SNE and UMAP start from), or its whole
        // projection, with the stages' times and the peak resident set.
        if (!opt.count("data")) {
            std::cerr << workload << " needs --data F.npy\n";
            return 2;
        }
        bool mapped = false;
        const MatrixView x = io::mapNpyMatrix(opt["data"], &mapped);
        out["mapped"] = mapped;
        out["n"] = x.rows;
        out["d"] = x.cols;
        out["peak_rss_mib_before"] = peakRssMiB();
        const auto start = std::chrono::steady_clock::now();
        nlohmann::json stages = nlohmann::json::object();
        std::optional<StageKind> stage;
        ProgressFn progress = [&](long long, long long, const Stage& s) {
            if (s.kind == stage)
                return;
            stage = s.kind;
            const std::string name(stageName(s.kind));
            stages[name] = seconds(start);
            std::cerr << seconds(start) << " s: " << name << std::endl;
        };
        const double cpu0 = cpuSeconds();
        const Metric metric = opt.count("metric") && opt["metric"] == "cosine" ? Metric::Cosine : Metric::Euclidean;
        if (workload == "graph") {
            const int k = static_cast<int>(num("k", 14));
            NeighbourOptions o;
            o.metric = metric;
            o.forceFaiss = opt.count("engine") && opt["engine"] == "faiss";
            o.forceApproximate = opt.count("engine") && opt["engine"] == "hnsw";
            NeighbourIndex index(x, o, progress);
            out["engine"] = index.engine() == NeighbourEngine::Faiss ? "faiss" : index.approximate() ? "hnsw" : "exact";
            out["build_s"] = seconds(start);
            const auto t0 = std::chrono::steady_clock::now();
            const auto graph = index.allRows(k, progress);
            out["graph_s"] = seconds(t0);
            out["peak_rss_mib"] = peakRssMiB();
            // Recall@k on evenly spaced rows against exact search (their own row left out).
            const std::int64_t nq = std::min<std::int64_t>(x.rows, static_cast<std::int64_t>(num("nq", 1000)));
            Matrix q(nq, x.cols);
            std::vector<std::vector<Neighbour>> found;
            for (std::int64_t i = 0; i < nq; ++i) {
                const std::int64_t r = (2 * i + 1) * x.rows / (2 * nq);
                std::copy_n(x.row(r), x.cols, q.row(i));
                found.push_back(graph[static_cast<std::size_t>(r)]);
            }
            auto truth = exactKnn(x, q, k + 1, metric);
            for (std::int64_t i = 0; i < nq; ++i) {
                const std::int64_t r = (2 * i + 1) * x.rows / (2 * nq);
                auto& t = truth[static_cast<std::size_t>(i)];
                std::erase_if(t, [&](const Neighbour& nb) { return nb.row == r; });
                t.resize(std::min<std::size_t>(t.size(), static_cast<std::size_t>(k)));
            }
            out["k"] = k;
            out["recall@k"] = recallAtK(found, truth, k);
        } else {
            ProjectionRequest request;
            request.method = parseProjectionMethod(opt.count("method") ? opt["method"] : "umap");
            request.metric = metric;
            request.seed = seed;
            request.iterations = static_cast<int>(num("iterations", 0));
            const Matrix y = projectLayout(x, request, nullptr, progress);
            out["method"] = toString(request.method);
            out["iterations"] = request.iterations;
            out["peak_rss_mib"] = peakRssMiB();
            if (opt.count("out"))
                io::writeNpyMatrix(opt["out"], y);
        }
        out["stages_s"] = stages;
        out["total_s"] = seconds(start);
        out["cpu_s"] = cpuSeconds() - cpu0;
    } else if (workload == "audit") {
        // Clustered embeddings with planted problems of each kind, labels = clusters.
        const auto n = static_cast<std::int64_t>(num("n", 10000));
        const int clusters = static_cast<int>(num("clusters", 37));
        Matrix x = opt.count("data") ? io::readNpyMatrix(opt["data"])
                                     : clustered(n, static_cast<std::int64_t>(num("d", 384)), clusters, 4.0f, seed);
        io::RowTable rows;
        rows.columns = {"path", "label"};
        for (std::int64_t i = 0; i < x.rows; ++i)
            rows.rows.push_back({"c" + std::to_string(i % clusters) + "/" + std::to_string(i) + ".jpg",
                                 "c" + std::to_string((i % 97 == 0 ? i + 1 : i) % clusters)}); // ~1 % mislabelled
        for (std::int64_t i = 1; i + 1 < x.rows; i += 211)                                     // ~0.5 % duplicated
            std::copy_n(x.row(i), x.cols, x.row(i + 1));
        AuditOptions o;
        o.k = static_cast<int>(num("k", 10));
        o.checkPixels = false;
        std::vector<double> secs;
        AuditReport rep;
        const double cpu0 = cpuSeconds();
        for (int r = 0; r < std::max(1, repeats); ++r) {
            auto t0 = std::chrono::steady_clock::now();
            rep = audit(x, rows, "/", o);
            secs.push_back(seconds(t0));
        }
        out["n"] = x.rows;
        out["d"] = x.cols;
        out["k"] = rep.k;
        out["seconds"] = secs;
        out["median_s"] = median(secs);
        out["cpu_s_per_run"] = (cpuSeconds() - cpu0) / std::max(1, repeats);
        out["duplicate_groups"] = rep.duplicates.size();
        out["mislabels"] = rep.mislabels.size();
        out["outliers"] = rep.outliers.size();
        out["near_duplicate_distance"] = rep.nearDuplicateDistance;
    } else {
        std::cerr << "unknown workload " << workload << '\n';
        return 2;
    }
    std::cout << out.dump() << std::endl;
    const std::string size = std::to_string(out["n"].get<std::int64_t>());
    auto extra = [&](std::initializer_list<const char*> keys) {
        nlohmann::json e{{"threads", computeThreads()}};
        for (const char* k : keys)
            if (out.contains(k))
                e[k] = out[k];
        return e;
    };
    if (workload == "exact") {
        vitrine::bench::emit(
            "W3", "exact top-10, " + std::to_string(out["nq"].get<std::int64_t>()) + " queries over " + size + "x384",
            out["queries_per_s"].get<double>(), "queries/s", true, extra({"search_s"}));
    } else if (workload == "hnsw") {
        vitrine::bench::emit("W3", "hnsw M16 build " + size + "x384", out["build_s"].get<double>(), "s", false,
                             extra({"M", "ef_construction"}));
        vitrine::bench::emit("W3", "hnsw M16 search, " + std::to_string(out["nq"].get<std::int64_t>()) + " queries",
                             out["queries_per_s"].get<double>(), "queries/s", true,
                             extra({"recall@10", "ef", "search_s"}));
    } else if (workload == "w7") {
        const std::string what = out["engine"].get<std::string>() + " " + size + "x" +
                                 std::to_string(out["d"].get<std::int64_t>());
        vitrine::bench::emit("W7", what + " build (memory-mapped .npy)", out["build_s"].get<double>(), "s", false,
                             extra({"peak_rss_mib_after_build", "nprobe", "ef"}));
        vitrine::bench::emit("W7", what + " search, " + std::to_string(out["nq"].get<std::int64_t>()) + " queries",
                             out["queries_per_s"].get<double>(), "queries/s", true,
                             extra({"recall@10", "nprobe", "ef"}));
    } else if (workload == "audit") {
        vitrine::bench::emit("W8",
                             "audit " + size + "x" + std::to_string(out["d"].get<std::int64_t>()) + " (k " +
                                 std::to_string(out["k"].get<int>()) + ", no pixel hashing)",
                             out["median_s"].get<double>(), "s", false,
                             extra({"seconds", "cpu_s_per_run", "duplicate_groups", "mislabels", "outliers"}));
    } else if (workload == "graph") {
        vitrine::bench::emit("W7",
                             "kNN graph (k " + std::to_string(out["k"].get<int>()) + ") " + size + "x" +
                                 std::to_string(out["d"].get<std::int64_t>()) + ", " + out["engine"].get<std::string>(),
                             out["total_s"].get<double>(), "s", false,
                             extra({"build_s", "graph_s", "recall@k", "peak_rss_mib", "cpu_s"}));
    } else if (workload == "project") {
        vitrine::bench::emit("W7",
                             out["method"].get<std::string>() + " " + size + "x" +
                                 std::to_string(out["d"].get<std::int64_t>()) + " (memory-mapped)",
                             out["total_s"].get<double>(), "s", false, extra({"stages_s", "peak_rss_mib", "cpu_s"}));
    } else {
        vitrine::bench::emit("W4", workload + " " + size + "x384", out["median_s"].get<double>(), "s", false,
                             extra({"seconds", "trustworthiness@10", "cpu_s_per_run"}));
    }
    return 0;
}
