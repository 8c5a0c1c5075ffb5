#pragma once
// A read-only [rows, cols] float32 row-major view that may share ownership of its storage:
// a memory-mapped .npy file (core/io/npy.h: mapNpyMatrix) or a Matrix kept alive with it.
// Lets large embedding sets reach the neighbour index without a copy in RAM. Torch-free.

#include <cstdint>
#include <memory>

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

    bool empty() const { return rows == 0 || cols == 0; }
    const float* row(std::int64_t i) const { return data + i * cols; }
    float operator()(std::int64_t i, std::int64_t j) const { return data[i * cols + j]; }
};

} // namespace vitrine::core
