#pragma once
// A read-only [rows, cols] float32 row-major view that may share ownership of its storage:
// a memory-mapped .npy file (core/io/npy.h: mapNpyMatrix) or a Matrix kept alive with it.
// Lets large embedding sets reach the neighbour index without a copy in RAM. Torch-free.

#include <algorithm>
#include <cstdint>
#include <memory>

#include <sys/mman.h>
#include <unistd.h>

#include "core/common/matrix.h"

namespace vitrine::core {

struct MatrixView {
    const float* data = nullptr;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    /// Keeps `data` valid (a mapping, a Matrix); null for a plain borrowed view, which is
    /// valid only while what it was made from lives.
    std::shared_ptr<const void> owner;

    MatrixView() = default;
    MatrixView(const float* d, std::int64_t r, std::int64_t c, std::shared_ptr<const void> o = {})
        : data(d), rows(r), cols(c), owner(std::move(o)) {}
    /// Borrows `m` (implicit, so APIs taking a view also take a Matrix).
    MatrixView(const Matrix& m) : data(m.data.data()), rows(m.rows), cols(m.cols) {}
    /// Takes `m` over: the view owns it.
    static MatrixView owning(Matrix m) {
        auto held = std::make_shared<const Matrix>(std::move(m));
        return MatrixView(held->data.data(), held->rows, held->cols, held);
    }

    /// The rows are pages of a memory-mapped file (set by core/io/npy.h's mapNpyMatrix).
    bool fileBacked = false;

    bool empty() const { return rows == 0 || cols == 0; }
    /// For a file-backed view: tells the kernel that rows [begin, end) will not be needed
    /// soon, so their pages leave this process's resident set (they stay in the page cache
    /// and are read back on the next touch). Readers that stream over a large file call it
    /// behind them. Does nothing for a view of memory.
    void releasePages(std::int64_t begin, std::int64_t end) const;
    const float* row(std::int64_t i) const { return data + i * cols; }
    float operator()(std::int64_t i, std::int64_t j) const { return data[i * cols + j]; }
};

inline void MatrixView::releasePages(std::int64_t begin, std::int64_t end) const {
    if (!fileBacked || !data || end <= begin)
        return;
    // Whole pages inside the rows only: a page shared with rows still in use stays.
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto from = reinterpret_cast<std::uintptr_t>(row(std::max<std::int64_t>(0, begin)));
    const auto to = reinterpret_cast<std::uintptr_t>(row(std::min(rows, end)));
    const std::uintptr_t first = (from + page - 1) / page * page, last = to / page * page;
    if (last > first)
        ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

} // namespace vitrine::core
