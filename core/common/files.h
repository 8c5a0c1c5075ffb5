#pragma once
// Reading files whole: the file-system helper every folder of core may use (image decoding
// included), so none reaches into io/ for it. Writing goes through core/io/atomic_file.h.

#include <cstddef>
#include <filesystem>
#include <string>

namespace vitrine::core {

/// Reads a whole file; throws core::Error naming the file on failure (missing, a folder,
/// unreadable, larger than `maxBytes`, changed while reading).
std::string readFile(const std::filesystem::path& file, std::size_t maxBytes = std::size_t(1) << 34);

} // namespace vitrine::core
