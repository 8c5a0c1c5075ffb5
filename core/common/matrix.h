#pragma once
// A dense row-major float32 matrix in plain C++: what the analysis and export APIs
// take and return, so Qt code can include them without parsing torch/torch.h.

#include <cstdint>
#include <vector>

namespace vitrine::core {

/// [rows, cols] float32, row-major (row i starts at data[i * cols]).
struct Matrix {
    std::vector<float> data;
    std::int64_t rows = 0;
    std::int64_t cols = 0;

    Matrix() = default;
    Matrix(std::int64_t r, std::int64_t c, float fill = 0.0f)
        : data(static_cast<std::size_t>(r * c), fill), rows(r), cols(c) {}

    bool empty() const { return rows == 0 || cols == 0; }
    float* row(std::int64_t i) { return data.data() + i * cols; }
    const float* row(std::int64_t i) const { return data.data() + i * cols; }
    float& operator()(std::int64_t i, std::int64_t j) { return data[static_cast<std::size_t>(i * cols + j)]; }
    float operator()(std::int64_t i, std::int64_t j) const { return data[static_cast<std::size_t>(i * cols + j)]; }
};

} // namespace vitrine::core
