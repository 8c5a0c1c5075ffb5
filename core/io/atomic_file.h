#pragma once
// The one way Vitrine writes files: into a temporary file in the target folder,
// flushed and fsync'ed, then renamed over the target. A failed or cancelled write
// leaves any earlier file untouched and no temporary file behind.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

namespace vitrine::core::io {

/// Writes `target` atomically; `produce` streams the content. Throws core::Error
/// naming the target and the reason (read-only folder, target is a directory,
/// disk full, ...). Exceptions from `produce` propagate after cleanup.
void writeFileAtomically(const std::filesystem::path& target,
                         const std::function<void(std::ostream&)>& produce);

/// Convenience for content already in memory.
void writeFileAtomically(const std::filesystem::path& target, std::string_view bytes);

/// Reads a whole file; throws core::Error naming the file on failure.
std::string readFile(const std::filesystem::path& file, std::size_t maxBytes = std::size_t(1) << 34);

} // namespace vitrine::core::io
