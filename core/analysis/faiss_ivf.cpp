#include "core/analysis/faiss_ivf.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <utility>

#include <sys/stat.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::analysis {

namespace fs = std::filesystem;

namespace {

// First line of a saved index; the second is the JSON key; FAISS's own bytes follow.
constexpr char kFileMagic[] = "vitrine-faiss-ivf 1\n";
// Rows normalised and added per step: bounds the extra memory (64k x 384 floats = 96 MB)
// and is how often progress is reported and cancellation polled.
constexpr std::int64_t kBlockRows = 65'536;
constexpr int kProbeK = 10;

struct OstreamWriter : faiss::IOWriter {
    explicit OstreamWriter(std::ostream& o) : out(o) { name = "ostream"; }
    size_t operator()(const void* ptr, size_t size, size_t nitems) override {
        out.write(static_cast<const char*>(ptr), static_cast<std::streamsize>(size * nitems));
        return out ? nitems : 0;
    }
    std::ostream& out;
};

/// Restores OpenMP's thread count (shared with LibTorch) when a build step ends.
class OmpThreads {
public:
    explicit OmpThreads(int n) : m_saved(omp_get_max_threads()) { omp_set_num_threads(n); }
    ~OmpThreads() { omp_set_num_threads(m_saved); }

private:
    int m_saved;
};

int autoNlist(std::int64_t n) {
    // About 2 sqrt(N) cells, a power of two: 1e6 rows -> 2048. bench/notes.md (W7) compares.
    const double target = 2.0 * std::sqrt(static_cast<double>(n));
    int nlist = 16;
    while (nlist * 2 <= target)
        nlist *= 2;
    return static_cast<int>(std::min<std::int64_t>(nlist, std::max<std::int64_t>(1, n / 39)));
}

} // namespace

struct FaissIvfIndex::Faiss {
    std::unique_ptr<faiss::IndexFlat> quantizer;
    std::unique_ptr<faiss::IndexIVFFlat> ivf;
    faiss::Index* loaded = nullptr; // owns quantizer inside when read from a file
    ~Faiss() { delete loaded; }
    faiss::IndexIVFFlat* index() const { return loaded ? static_cast<faiss::IndexIVFFlat*>(loaded) : ivf.get(); }
};

void FaissIvfIndex::prepare(float* rows, std::int64_t n) const {
    if (m_options.metric != Metric::Cosine)
        return;
    for (std::int64_t i = 0; i < n; ++i) {
        float* r = rows + i * m_dim;
        double s = 0.0;
        for (std::int64_t j = 0; j < m_dim; ++j)
            s += double(r[j]) * r[j];
        const float inv = s > 1e-24 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.0f;
        for (std::int64_t j = 0; j < m_dim; ++j)
            r[j] *= inv;
    }
}

FaissIvfIndex::FaissIvfIndex(const MatrixView& data, const NeighbourOptions& options, const ProgressFn& progress,
                             const CancelToken* cancel)
    : m_faiss(std::make_unique<Faiss>()), m_options(options), m_rows(data.rows), m_dim(data.cols) {
    m_nlist = options.faissNlist > 0 ? static_cast<int>(std::min<std::int64_t>(options.faissNlist, data.rows))
                                     : autoNlist(data.rows);
    std::string key;
    if (!options.embeddingsFile.empty()) {
        struct stat st {};
        if (::stat(options.embeddingsFile.c_str(), &st) == 0) {
            nlohmann::json k = {
                {"file_size", static_cast<std::int64_t>(st.st_size)},
                {"mtime_ns", static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec},
                {"rows", data.rows},
                {"dim", data.cols},
                {"metric", options.metric == Metric::Cosine ? "cosine" : "euclidean"},
                {"index", "IVF" + std::to_string(m_nlist) + ",Flat"},
            };
            key = k.dump();
            if (tryLoad(key)) {
                m_fileStatus = IndexFileStatus::Reused;
                report(progress, m_rows, m_rows, StageKind::Indexing);
                return;
            }
        }
    }
    build(data, progress, cancel);
    if (!key.empty())
        save(key);
}

FaissIvfIndex::~FaissIvfIndex() = default;

bool FaissIvfIndex::tryLoad(const std::string& key) {
    const fs::path file = faissIndexPath(m_options.embeddingsFile);
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (!f)
        return false;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
    auto readLine = [&] {
        std::string line;
        for (int c; (c = std::fgetc(f)) != EOF && c != '\n' && line.size() < 4096;)
            line.push_back(static_cast<char>(c));
        return line;
    };
    if (readLine() + "\n" != kFileMagic)
        return false;
    nlohmann::json stored = nlohmann::json::parse(readLine(), nullptr, /*allow_exceptions=*/false);
    if (!stored.is_object() || !stored.contains("key") || stored["key"].dump() != nlohmann::json::parse(key).dump())
        return false; // stale: the embeddings (or the options) changed since it was saved
    try {
        faiss::FileIOReader reader(f);
        std::unique_ptr<faiss::Index> index(faiss::read_index(&reader));
        auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(index.get());
        if (!ivf || ivf->ntotal != m_rows || ivf->d != m_dim)
            return false;
        if (ivf->direct_map.type == faiss::DirectMap::NoMap)
            ivf->make_direct_map(true);
        m_nprobe = stored.value("nprobe", 1);
        m_probedRecall = stored.value("probed_recall", -1.0);
        ivf->nprobe = static_cast<std::size_t>(m_nprobe);
        m_faiss->loaded = index.release();
        return true;
    } catch (const faiss::FaissException&) {
        return false; // damaged file: rebuild and replace it
    }
}

void FaissIvfIndex::save(const std::string& key) {
    const fs::path file = faissIndexPath(m_options.embeddingsFile);
    try {
        nlohmann::json line = {
            {"key", nlohmann::json::parse(key)}, {"nprobe", m_nprobe}, {"probed_recall", m_probedRecall}};
        io::writeFileAtomically(file, [&](std::ostream& out) {
            out << kFileMagic << line.dump() << '\n';
            OstreamWriter writer(out);
            faiss::write_index(m_faiss->index(), &writer);
        });
        m_fileStatus = IndexFileStatus::Saved;
    } catch (const std::exception& e) {
        // The index is usable without its file; the caller can say why it was not kept.
        m_fileStatus = IndexFileStatus::SaveFailed;
        m_fileMessage = e.what();
    }
}

void FaissIvfIndex::build(const MatrixView& data, const ProgressFn& progress, const CancelToken* cancel) {
    const std::int64_t n = data.rows, d = data.cols;
    const int threads = m_options.threads > 0 ? m_options.threads : std::max(1, computeThreads());
    OmpThreads omp(threads);
    const auto metric = m_options.metric == Metric::Cosine ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    if (metric == faiss::METRIC_INNER_PRODUCT)
        m_faiss->quantizer = std::make_unique<faiss::IndexFlatIP>(d);
    else
        m_faiss->quantizer = std::make_unique<faiss::IndexFlatL2>(d);
    m_faiss->ivf = std::make_unique<faiss::IndexIVFFlat>(m_faiss->quantizer.get(), d, m_nlist, metric);
    auto* ivf = m_faiss->ivf.get();
    ivf->cp.spherical = metric == faiss::METRIC_INNER_PRODUCT;
    ivf->cp.seed = static_cast<int>(m_options.seed);
    ivf->cp.verbose = false;

    // Train k-means on evenly spaced rows (up to 64 per cell; FAISS samples no more anyway).
    report(progress, 0, n, StageKind::IndexTraining);
    const std::int64_t trainRows = std::min<std::int64_t>(n, std::int64_t(64) * m_nlist);
    std::vector<float> buf(static_cast<std::size_t>(std::max(trainRows, std::min(n, kBlockRows)) * d));
    for (std::int64_t i = 0; i < trainRows; ++i) {
        const std::int64_t r = i * n / trainRows;
        std::memcpy(buf.data() + i * d, data.row(r), static_cast<std::size_t>(d) * sizeof(float));
    }
    prepare(buf.data(), trainRows);
    if (cancel)
        cancel->check();
    ivf->train(trainRows, buf.data());
    if (cancel)
        cancel->check();

    // Probe rows for the automatic nprobe: their exact top-(k+1) is gathered block by block
    // while the rows are added, so the data is read only once.
    const bool autoProbe = m_options.faissNprobe <= 0;
    const std::int64_t probes = autoProbe ? std::min<std::int64_t>(256, n) : 0;
    std::vector<float> probeVecs(static_cast<std::size_t>(probes * d));
    for (std::int64_t i = 0; i < probes; ++i) {
        const std::int64_t r = (2 * i + 1) * n / (2 * probes);
        std::memcpy(probeVecs.data() + i * d, data.row(r), static_cast<std::size_t>(d) * sizeof(float));
    }
    prepare(probeVecs.data(), probes);
    const int wantTruth = static_cast<int>(std::min<std::int64_t>(n, kProbeK + 1));
    // Per probe: (score, row), larger score = nearer.
    std::vector<std::vector<std::pair<float, std::int64_t>>> truth(static_cast<std::size_t>(probes));

    ivf->make_direct_map(true);
    std::vector<float> dist(static_cast<std::size_t>(probes * wantTruth));
    std::vector<faiss::Index::idx_t> lab(static_cast<std::size_t>(probes * wantTruth));
    for (std::int64_t start = 0; start < n; start += kBlockRows) {
        if (cancel)
            cancel->check();
        const std::int64_t end = std::min(n, start + kBlockRows), rows = end - start;
        std::memcpy(buf.data(), data.row(start), static_cast<std::size_t>(rows * d) * sizeof(float));
        data.releasePages(start, end); // copied: the mapped pages can leave the resident set
        prepare(buf.data(), rows);
        ivf->add(rows, buf.data());
        if (probes > 0) {
            std::unique_ptr<faiss::IndexFlat> flat;
            if (metric == faiss::METRIC_INNER_PRODUCT)
                flat = std::make_unique<faiss::IndexFlatIP>(d);
            else
                flat = std::make_unique<faiss::IndexFlatL2>(d);
            // IndexFlat copies what it is given; a block is small, and it is dropped at once.
            flat->add(rows, buf.data());
            const int kk = static_cast<int>(std::min<std::int64_t>(wantTruth, rows));
            flat->search(probes, probeVecs.data(), kk, dist.data(), lab.data());
            for (std::int64_t q = 0; q < probes; ++q) {
                auto& list = truth[static_cast<std::size_t>(q)];
                for (int j = 0; j < kk; ++j) {
                    const auto l = lab[static_cast<std::size_t>(q * kk + j)];
                    if (l < 0)
                        continue;
                    const float v = dist[static_cast<std::size_t>(q * kk + j)];
                    list.emplace_back(metric == faiss::METRIC_INNER_PRODUCT ? v : -v, start + l);
                }
                std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.first > b.first; });
                if (static_cast<int>(list.size()) > wantTruth)
                    list.resize(static_cast<std::size_t>(wantTruth));
            }
        }
        report(progress, end, n, StageKind::Indexing);
    }

    if (!autoProbe) {
        m_nprobe = std::min(m_options.faissNprobe, m_nlist);
    } else {
        std::vector<std::vector<Neighbour>> want(static_cast<std::size_t>(probes));
        std::vector<std::int64_t> self(static_cast<std::size_t>(probes));
        for (std::int64_t q = 0; q < probes; ++q) {
            self[static_cast<std::size_t>(q)] = (2 * q + 1) * n / (2 * probes);
            for (auto& [score, row] : truth[static_cast<std::size_t>(q)])
                if (row != self[static_cast<std::size_t>(q)])
                    want[static_cast<std::size_t>(q)].push_back({row, 0.0f});
        }
        // At most an eighth of the cells: on data with little structure the recall target
        // would otherwise take every cell, one query at a time slower than exact search (2e5
        // rows of spread 0.3: 7.7 queries/s). There the probed recall is what users get, and
        // NeighbourIndex::probedRecall() reports it.
        const int maxProbe = std::max(1, m_nlist / 8);
        for (int np = 1;; np *= 2) {
            m_nprobe = std::min(np, maxProbe);
            ivf->nprobe = static_cast<std::size_t>(m_nprobe);
            // search() normalises again: harmless on unit rows.
            auto found = search(probeVecs.data(), probes, kProbeK, self);
            m_probedRecall = recallAtK(found, want, kProbeK);
            if (m_probedRecall >= m_options.hnswTargetRecall || m_nprobe >= maxProbe)
                break;
        }
    }
    ivf->nprobe = static_cast<std::size_t>(m_nprobe);
}

std::vector<std::vector<Neighbour>> FaissIvfIndex::search(const float* queries, std::int64_t n, int k,
                                                          const std::vector<std::int64_t>& excludeRows) const {
    std::vector<std::vector<Neighbour>> out(static_cast<std::size_t>(n));
    if (n == 0 || k <= 0 || m_rows == 0)
        return out;
    const bool anyExclude = std::any_of(excludeRows.begin(), excludeRows.end(), [](auto r) { return r >= 0; });
    const std::int64_t want = std::min<std::int64_t>(m_rows, k + (anyExclude ? 1 : 0));
    std::vector<float> q(queries, queries + n * m_dim);
    prepare(q.data(), n);
    std::vector<float> dist(static_cast<std::size_t>(n * want));
    std::vector<faiss::Index::idx_t> lab(static_cast<std::size_t>(n * want));
    m_faiss->index()->search(n, q.data(), want, dist.data(), lab.data());
    for (std::int64_t i = 0; i < n; ++i) {
        auto& list = out[static_cast<std::size_t>(i)];
        const std::int64_t skip = excludeRows.empty() ? -1 : excludeRows[static_cast<std::size_t>(i)];
        for (std::int64_t j = 0; j < want && static_cast<int>(list.size()) < k; ++j) {
            const auto row = lab[static_cast<std::size_t>(i * want + j)];
            if (row < 0 || row == skip)
                continue;
            const float v = dist[static_cast<std::size_t>(i * want + j)];
            list.push_back({row, m_options.metric == Metric::Cosine ? 1.0f - v : std::sqrt(std::max(0.0f, v))});
        }
    }
    return out;
}

FaissIvfIndex::Cell FaissIvfIndex::cell(int c) const {
    const auto* lists = m_faiss->index()->invlists;
    Cell out;
    out.size = static_cast<std::int64_t>(lists->list_size(static_cast<std::size_t>(c)));
    out.ids = lists->get_ids(static_cast<std::size_t>(c));
    out.rows = reinterpret_cast<const float*>(lists->get_codes(static_cast<std::size_t>(c)));
    return out;
}

int FaissIvfIndex::cellOf(std::int64_t row) const {
    return static_cast<int>(faiss::lo_listno(m_faiss->index()->direct_map.get(row)));
}

std::vector<std::int64_t> FaissIvfIndex::nearestCells(int p) const {
    const auto* ivf = m_faiss->index();
    const int nlist = static_cast<int>(ivf->nlist);
    std::vector<float> centroids(static_cast<std::size_t>(nlist) * static_cast<std::size_t>(m_dim));
    ivf->quantizer->reconstruct_n(0, nlist, centroids.data());
    std::vector<float> dist(static_cast<std::size_t>(nlist) * static_cast<std::size_t>(p));
    std::vector<faiss::Index::idx_t> lab(dist.size());
    ivf->quantizer->search(nlist, centroids.data(), p, dist.data(), lab.data());
    std::vector<std::int64_t> out(lab.begin(), lab.end());
    // A centroid is its own nearest; ties between equal centroids could put another first.
    for (int c = 0; c < nlist; ++c) {
        auto* row = out.data() + static_cast<std::ptrdiff_t>(c) * p;
        auto self = std::find(row, row + p, c);
        if (self == row + p)
            self = row + p - 1;
        *self = c;
        std::rotate(row, self, self + 1);
    }
    return out;
}

std::vector<float> FaissIvfIndex::storedRow(std::int64_t row) const {
    std::vector<float> v(static_cast<std::size_t>(m_dim));
    m_faiss->index()->reconstruct(row, v.data());
    return v;
}

} // namespace vitrine::core::analysis
