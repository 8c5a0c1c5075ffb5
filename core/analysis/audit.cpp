#include "core/analysis/audit.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <opencv2/core.hpp>

#include "core/analysis/neighbours.h"
#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/data/dataset.h"
#include "core/image/decode.h"

namespace vitrine::core::analysis {

namespace {

class UnionFind {
public:
    explicit UnionFind(std::size_t n) : m_parent(n) { std::iota(m_parent.begin(), m_parent.end(), std::size_t{0}); }
    std::size_t find(std::size_t x) {
        while (m_parent[x] != x)
            x = m_parent[x] = m_parent[m_parent[x]];
        return x;
    }
    void unite(std::size_t a, std::size_t b) {
        a = find(a);
        b = find(b);
        if (a != b)
            m_parent[std::max(a, b)] = std::min(a, b);
    }

private:
    std::vector<std::size_t> m_parent;
};

float median(std::vector<float> v) {
    if (v.empty())
        return 0.0f;
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
}

float cosineDistance(const Matrix& m, std::int64_t a, std::int64_t b) {
    const float* x = m.row(a);
    const float* y = m.row(b);
    double dot = 0, nx = 0, ny = 0;
    for (std::int64_t j = 0; j < m.cols; ++j) {
        dot += double(x[j]) * y[j];
        nx += double(x[j]) * x[j];
        ny += double(y[j]) * y[j];
    }
    if (nx <= 0 || ny <= 0)
        return 1.0f;
    return std::max(0.0f, static_cast<float>(1.0 - dot / std::sqrt(nx * ny)));
}

std::uint64_t hashPixels(const cv::Mat& rgb) {
    // Continuous copy so the bytes hashed are exactly width * height * 3.
    const cv::Mat m = rgb.isContinuous() ? rgb : rgb.clone();
    const std::string_view bytes(reinterpret_cast<const char*>(m.data), m.total() * m.elemSize());
    std::uint64_t h = std::hash<std::string_view>{}(bytes);
    // Dimensions too: a 2x6 and a 3x4 image of the same bytes are different images.
    h ^= (std::uint64_t(m.cols) << 32 | std::uint64_t(m.rows)) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

std::string splitOf(const io::RowTable& rows, std::int64_t r, int splitCol, double fraction) {
    if (splitCol >= 0) {
        const auto& v = rows.rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(splitCol)];
        if (v == "val" || v == "validation" || v == "valid")
            return "val";
        if (!v.empty())
            return v == "training" ? "train" : v;
    }
    return data::isValidation(rows.value(r, "path"), fraction) ? "val" : "train";
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

std::uint64_t pixelHash(const std::filesystem::path& file) {
    image::DecodeOptions o;
    o.minShortSide = 0; // full size: a downscaled decode could call two different images equal
    return hashPixels(image::decodeRgb(file, o));
}

AuditReport audit(const Matrix& embeddings, const io::RowTable& rows, const std::filesystem::path& root,
                  const AuditOptions& options, const ProgressFn& progress, const CancelToken* cancel) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t n = embeddings.rows;
    if (rows.size() != n)
        throw Error("audit: " + std::to_string(n) + " embeddings but " + std::to_string(rows.size()) +
                    " rows of metadata; pass the rows.tsv written with the embeddings");
    if (rows.column("path") < 0)
        throw Error("audit: the row metadata has no 'path' column");
    if (options.k < 1)
        throw Error("audit: k must be at least 1");
    AuditReport rep;
    const auto N = static_cast<std::size_t>(n);
    rep.mislabelScore.assign(N, 0.0f);
    rep.suggestedLabel.assign(N, {});
    rep.outlierScore.assign(N, 0.0f);
    rep.knnDistance.assign(N, 0.0f);
    rep.splits.resize(N);
    const int splitCol = options.splitColumn.empty() ? -1 : rows.column(options.splitColumn);
    for (std::int64_t i = 0; i < n; ++i)
        rep.splits[static_cast<std::size_t>(i)] = splitOf(rows, i, splitCol, options.validationFraction);
    if (n < 2) {
        rep.seconds = secondsSince(t0);
        return rep;
    }
    const int k = static_cast<int>(std::min<std::int64_t>(options.k, n - 1));
    rep.k = k;
    const int threads = options.threads > 0 ? options.threads : computeThreads();

    // 1. The kNN graph: exact up to 150,000 rows, approximate above. Every row is a query
    //    here, and a missed neighbour is a missed duplicate: at 100,000 × 384 (bench W8) exact
    //    search took 133 CPU-s and found 474 duplicate groups, HNSW 148 CPU-s (its build
    //    included) and 444, FAISS IVF 301 CPU-s.
    NeighbourOptions no;
    no.metric = Metric::Cosine;
    no.threads = threads;
    no.approximateAbove = std::max<std::int64_t>(no.approximateAbove, 150'000);
    NeighbourIndex index(embeddings, no, {}, cancel);
    const auto knn = index.allRows(k, progress, cancel);
    if (cancel)
        cancel->check();

    // 2. Near duplicates: pairs under the threshold, joined by union-find.
    std::vector<float> nearest(N);
    for (std::size_t i = 0; i < N; ++i)
        nearest[i] = knn[i].empty() ? 0.0f : std::max(0.0f, knn[i][0].distance);
    const float medianNearest = median(nearest);
    rep.medianNearestDistance = medianNearest;
    if (options.nearDuplicateDistance >= 0) {
        rep.nearDuplicateDistance = options.nearDuplicateDistance;
    } else {
        rep.nearDuplicateDistance = std::clamp(kNearDuplicateFraction * medianNearest, kMinNearDuplicate,
                                               kMaxNearDuplicate);
        rep.thresholdFromData = true;
    }
    const float linkDistance = std::max(rep.nearDuplicateDistance, kSameEmbedding);
    UnionFind uf(N);
    for (std::size_t i = 0; i < N; ++i)
        for (const auto& nb : knn[i])
            if (nb.distance <= linkDistance)
                uf.unite(i, static_cast<std::size_t>(nb.row));
    std::map<std::size_t, std::vector<std::int64_t>> components; // root -> rows, ascending
    for (std::size_t i = 0; i < N; ++i)
        components[uf.find(i)].push_back(static_cast<std::int64_t>(i));
    std::vector<std::vector<std::int64_t>> groups;
    for (auto& [r, members] : components)
        if (members.size() > 1)
            groups.push_back(std::move(members));

    // 3. Exact duplicates: decode only the candidates, in parallel.
    std::vector<std::int64_t> candidates;
    for (const auto& g : groups)
        candidates.insert(candidates.end(), g.begin(), g.end());
    std::vector<std::uint64_t> hash(N, 0);
    std::vector<char> hashed(N, 0);
    std::vector<std::string> failure(N);
    if (options.checkPixels && !candidates.empty()) {
        const auto tp = std::chrono::steady_clock::now();
        std::atomic<std::size_t> next{0}, done{0};
        std::atomic<bool> stop{false};
        const int workers = std::max(1, std::min<int>(threads, static_cast<int>(candidates.size())));
        auto work = [&](bool reports) {
            for (std::size_t c; !stop && (c = next++) < candidates.size();) {
                const auto r = static_cast<std::size_t>(candidates[c]);
                const auto file = root / rows.value(candidates[c], "path");
                try {
                    hash[r] = pixelHash(file);
                    hashed[r] = 1;
                } catch (const std::exception& e) {
                    failure[r] = e.what();
                }
                ++done;
                if (cancel && cancel->cancelled())
                    stop = true;
                if (reports) // progress from the calling thread only, as callers expect
                    report(progress, static_cast<long long>(done), static_cast<long long>(candidates.size()),
                           StageKind::Hashing);
            }
        };
        std::vector<std::thread> pool;
        for (int w = 1; w < workers; ++w)
            pool.emplace_back(work, false);
        work(true); // the calling thread decodes too
        for (auto& t : pool)
            t.join();
        report(progress, static_cast<long long>(done), static_cast<long long>(candidates.size()), StageKind::Hashing);
        if (cancel)
            cancel->check();
        rep.pixelSeconds = secondsSince(tp);
    }
    for (auto r : candidates)
        if (!failure[static_cast<std::size_t>(r)].empty())
            rep.unreadable.push_back(failure[static_cast<std::size_t>(r)]);

    auto maxDistance = [&](const std::vector<std::int64_t>& members) {
        float d = 0.0f;
        if (members.size() <= 256) {
            for (std::size_t a = 0; a < members.size(); ++a)
                for (std::size_t b = a + 1; b < members.size(); ++b)
                    d = std::max(d, cosineDistance(embeddings, members[a], members[b]));
        } else { // single linkage can chain: the largest link that joined it, not every pair
            for (auto r : members)
                for (const auto& nb : knn[static_cast<std::size_t>(r)])
                    if (nb.distance <= linkDistance)
                        d = std::max(d, nb.distance);
        }
        return d;
    };

    std::vector<DuplicateGroup> exact, nearGroups;
    for (const auto& g : groups) {
        // Split the group by pixels. A 64-bit hash of the dimensions and bytes: within a group
        // of a few images the chance that two different images collide is ~1e-18.
        std::vector<std::vector<std::int64_t>> same;
        int distinct = 0;
        for (auto r : g) {
            const auto u = static_cast<std::size_t>(r);
            if (!hashed[u]) {
                ++distinct;
                continue;
            }
            bool placed = false;
            for (auto& s : same) {
                if (hash[static_cast<std::size_t>(s.front())] == hash[u]) {
                    s.push_back(r);
                    placed = true;
                    break;
                }
            }
            if (!placed) {
                same.push_back({r});
                ++distinct;
            }
        }
        for (auto& s : same)
            if (s.size() > 1)
                exact.push_back({s, true, maxDistance(s)});
        if (distinct > 1)
            nearGroups.push_back({g, false, maxDistance(g)});
    }
    std::stable_sort(exact.begin(), exact.end(), [](const DuplicateGroup& a, const DuplicateGroup& b) {
        return a.rows.size() != b.rows.size() ? a.rows.size() > b.rows.size() : a.rows.front() < b.rows.front();
    });
    std::stable_sort(nearGroups.begin(), nearGroups.end(),
                     [](const DuplicateGroup& a, const DuplicateGroup& b) { return a.distance < b.distance; });
    rep.duplicates = std::move(exact);
    rep.duplicates.insert(rep.duplicates.end(), nearGroups.begin(), nearGroups.end());

    // 4. Leakage: every duplicate component (exact copies and near ones alike).
    const int labelCol = rows.column("label");
    auto labelOf = [&](std::int64_t r) -> const std::string& { return rows.value(r, "label"); };
    for (const auto& g : groups) {
        Leak leak;
        leak.rows = g;
        for (auto r : g) {
            leak.crossesSplit |= rep.splits[static_cast<std::size_t>(r)] != rep.splits[static_cast<std::size_t>(g[0])];
            leak.mixedLabels |= labelCol >= 0 && labelOf(r) != labelOf(g[0]);
        }
        if (leak.crossesSplit || leak.mixedLabels)
            rep.leakage.push_back(std::move(leak));
    }
    if (cancel)
        cancel->check();

    // 5. Mislabels: inverse-distance-weighted label vote of the k nearest neighbours.
    report(progress, 0, n, StageKind::Scoring);
    const float delta = std::max(medianNearest, 1e-3f);
    if (labelCol >= 0) {
        std::unordered_map<std::string, int> labelId;
        std::vector<int> ids(N);
        std::vector<const std::string*> names;
        for (std::size_t i = 0; i < N; ++i) {
            const auto& l = labelOf(static_cast<std::int64_t>(i));
            auto [it, fresh] = labelId.emplace(l, static_cast<int>(names.size()));
            if (fresh)
                names.push_back(&it->first);
            ids[i] = it->second;
        }
        std::vector<double> weight(names.size(), 0.0);
        for (std::size_t i = 0; i < N; ++i) {
            if (labelOf(static_cast<std::int64_t>(i)).empty() || knn[i].empty())
                continue;
            std::fill(weight.begin(), weight.end(), 0.0);
            double total = 0;
            for (const auto& nb : knn[i]) {
                const double w = 1.0 / (std::max(0.0f, nb.distance) + delta);
                weight[static_cast<std::size_t>(ids[static_cast<std::size_t>(nb.row)])] += w;
                total += w;
            }
            int best = -1;
            for (std::size_t l = 0; l < weight.size(); ++l)
                if (static_cast<int>(l) != ids[i] && weight[l] > 0 &&
                    (best < 0 || weight[l] > weight[std::size_t(best)]))
                    best = static_cast<int>(l);
            if (best < 0 || total <= 0)
                continue;
            rep.mislabelScore[i] = static_cast<float>(weight[static_cast<std::size_t>(best)] / total);
            rep.suggestedLabel[i] = *names[static_cast<std::size_t>(best)];
        }
        for (std::size_t i = 0; i < N; ++i)
            if (rep.mislabelScore[i] >= options.minMislabelScore && !rep.suggestedLabel[i].empty())
                rep.mislabels.push_back({static_cast<std::int64_t>(i), labelOf(static_cast<std::int64_t>(i)),
                                         rep.suggestedLabel[i], rep.mislabelScore[i]});
        std::stable_sort(rep.mislabels.begin(), rep.mislabels.end(),
                         [](const Mislabel& a, const Mislabel& b) { return a.score > b.score; });
    }

    // 6. Outliers: robust z of the mean kNN distance, through a logistic at 3.5.
    for (std::size_t i = 0; i < N; ++i) {
        double s = 0;
        for (const auto& nb : knn[i])
            s += std::max(0.0f, nb.distance);
        rep.knnDistance[i] = knn[i].empty() ? 0.0f : static_cast<float>(s / double(knn[i].size()));
    }
    const float med = median(rep.knnDistance);
    std::vector<float> dev(N);
    for (std::size_t i = 0; i < N; ++i)
        dev[i] = std::abs(rep.knnDistance[i] - med);
    float mad = median(dev);
    if (mad <= 1e-12f) { // over half the rows at the median: fall back to the mean deviation
        double s = 0;
        for (float d : dev)
            s += d;
        mad = static_cast<float>(s / double(N)) * 0.7979f; // mean abs deviation ~ 0.7979 sigma vs MAD 0.6745 sigma
    }
    for (std::size_t i = 0; i < N; ++i) {
        const double z = mad > 1e-12f ? 0.6745 * (rep.knnDistance[i] - med) / mad : 0.0;
        rep.outlierScore[i] = static_cast<float>(1.0 / (1.0 + std::exp(3.5 - z)));
        rep.outliers.push_back({static_cast<std::int64_t>(i), rep.outlierScore[i], rep.knnDistance[i]});
    }
    std::stable_sort(rep.outliers.begin(), rep.outliers.end(),
                     [](const Outlier& a, const Outlier& b) { return a.knnDistance > b.knnDistance; });
    const auto listed = static_cast<std::size_t>(
        std::max<double>(options.minListedOutliers, std::ceil(options.listedOutlierFraction * double(N))));
    std::size_t keepN = std::min(listed, rep.outliers.size());
    while (keepN < rep.outliers.size() && rep.outliers[keepN].score >= options.minOutlierScore)
        ++keepN;
    rep.outliers.resize(keepN);
    report(progress, n, n, StageKind::Scoring);
    rep.seconds = secondsSince(t0);
    return rep;
}

} // namespace vitrine::core::analysis
