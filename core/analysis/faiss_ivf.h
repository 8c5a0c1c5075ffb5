#pragma once
// The FAISS engine behind NeighbourIndex for very large sets: an IVF-Flat index (k-means
// cells, exact distances inside the probed cells) built from a matrix that may be memory-
// mapped, saved beside the embeddings file and reused while that file is unchanged.
// Internal to core/analysis (neighbours.cpp); torch-free and faiss-free in its header.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/analysis/neighbours.h"
#include "core/common/job.h"
#include "core/common/matrix_view.h"

namespace vitrine::core::analysis {

class FaissIvfIndex {
public:
    /// Builds (or, with options.embeddingsFile set and a matching saved index, loads) the
    /// index over `data` ([N, D] float32, read once in blocks of rows, never copied whole).
    /// Progress: StageKind::IndexTraining, Indexing (rows); throws core::Cancelled when cancelled.
    FaissIvfIndex(const MatrixView& data, const NeighbourOptions& options, const ProgressFn& progress,
                  const CancelToken* cancel);
    ~FaissIvfIndex();

    /// Queries are raw rows ([n, D] float32; normalised here for cosine). `excludeRows`
    /// (n entries or empty) drops that row from each list.
    std::vector<std::vector<Neighbour>> search(const float* queries, std::int64_t n, int k,
                                               const std::vector<std::int64_t>& excludeRows) const;
    /// The stored (for cosine: normalised) row.
    std::vector<float> storedRow(std::int64_t row) const;

    /// One IVF cell: its rows' ids and their stored (for cosine: normalised) vectors,
    /// [size, dim] float32 row-major, valid while the index lives.
    struct Cell {
        std::int64_t size = 0;
        const std::int64_t* ids = nullptr;
        const float* rows = nullptr;
    };
    Cell cell(int c) const;
    /// The cell an indexed row was put in.
    int cellOf(std::int64_t row) const;
    /// For every cell, the `p` cells whose centroids are nearest to its centroid, itself
    /// first: [nlist * p] cell numbers (-1 where there are fewer than p cells).
    std::vector<std::int64_t> nearestCells(int p) const;

    int nlist() const { return m_nlist; }
    int nprobe() const { return m_nprobe; }
    double probedRecall() const { return m_probedRecall; }
    IndexFileStatus fileStatus() const { return m_fileStatus; }
    const std::string& fileMessage() const { return m_fileMessage; }

private:
    void build(const MatrixView& data, const ProgressFn& progress, const CancelToken* cancel);
    bool tryLoad(const std::string& key);
    void save(const std::string& key);
    void prepare(float* rows, std::int64_t n) const;

    struct Faiss;
    std::unique_ptr<Faiss> m_faiss;
    NeighbourOptions m_options;
    std::int64_t m_rows = 0, m_dim = 0;
    int m_nlist = 0, m_nprobe = 0;
    double m_probedRecall = -1.0;
    IndexFileStatus m_fileStatus = IndexFileStatus::NotUsed;
    std::string m_fileMessage;
};

} // namespace vitrine::core::analysis
