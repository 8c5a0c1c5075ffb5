#pragma once
// NumPy .npy files holding one 2-D float32 matrix ([rows, cols], C order): what
// `np.save(path, x.astype(np.float32))` writes and `np.load` reads.

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>

#include "core/common/matrix.h"
#include "core/common/matrix_view.h"

namespace vitrine::core::io {

/// The bytes before the data of a [rows, cols] float32 .npy file (magic, version 1.0, header
/// dict). Padded to a multiple of 64 bytes, or to exactly `size` bytes when given (so a
/// header written before the row count was known can be replaced in place).
std::string npyMatrixPreamble(std::int64_t rows, std::int64_t cols, std::size_t size = 0);

/// Streams `m` ([rows, cols] float32; a Matrix converts to a view) as .npy version 1.0
/// (little-endian '<f4', C order). A memory-mapped view is written in blocks with its pages
/// released behind (MatrixView::releasePages), so a 1.5 GB file does not stay resident.
void writeNpyMatrix(std::ostream& out, const core::MatrixView& m);

/// Writes `m` to `path` atomically (see atomic_file.h); throws core::Error naming the file.
void writeNpyMatrix(const std::filesystem::path& path, const core::MatrixView& m);

/// Parses .npy bytes: versions 1-3, dtype '<f4' or '<f8' (converted to float32), 1-D
/// (read as [n, 1]) or 2-D shape, C or Fortran order. Anything else (bad magic, malformed
/// header, other dtype, size that does not match the shape) throws core::Error naming
/// `nameForErrors` and saying what was wrong.
core::Matrix parseNpy(std::string_view bytes, const std::filesystem::path& nameForErrors);

/// Reads and parses `path` (see parseNpy).
core::Matrix readNpyMatrix(const std::filesystem::path& path);

/// Opens `path` read-only without copying it into memory when it can: a float32 ('<f4'),
/// C-order file is memory-mapped and the view points into the mapping (pages are read on
/// first touch and can be dropped again by the kernel; the view keeps the mapping alive).
/// Other layouts the reader accepts (float64, Fortran order) are read and converted as
/// readNpyMatrix does, into memory the view owns. `mapped`, when given, says which happened.
/// Errors as parseNpy, naming `path` (a truncated file: "size does not match its header ...
/// (truncated ...)"). The file must not be truncated while mapped (reading a page past the
/// new end raises SIGBUS); Vitrine replaces files by rename (atomic_file.h), which is safe.
core::MatrixView mapNpyMatrix(const std::filesystem::path& path, bool* mapped = nullptr);

} // namespace vitrine::core::io
