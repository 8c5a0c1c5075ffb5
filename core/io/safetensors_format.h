#pragma once
// The safetensors format (8-byte little-endian header length, then JSON naming every tensor's
// dtype, shape and byte range, then the raw data), torch-free: the one codec behind the model
// checkpoints (core/model/safetensors.h, which adds at::Tensor), the embedding matrices below
// and the fuzz targets. Everything is validated before anything is allocated from it: a
// crafted or truncated header is a core::Error naming the file and the problem, never a crash
// or a huge allocation.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/matrix.h"
#include "core/common/matrix_view.h"

namespace vitrine::core::io {

/// One tensor as described by a header (no data).
struct SafetensorsEntry {
    std::string name;
    std::string dtype; ///< "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", ...
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0, end = 0; ///< byte range relative to the start of the data section
};

struct SafetensorsHeader {
    std::vector<SafetensorsEntry> entries;       ///< ordered by data offset
    std::map<std::string, std::string> metadata; ///< "__metadata__" (string -> string)
    std::uint64_t dataStart = 0;                 ///< absolute file offset of the data section
};

struct SafetensorsReadOptions {
    std::uint64_t maxHeaderBytes = 100ull << 20; ///< refuse larger JSON headers (100 MB)
    /// false: only the ten dtypes the tensor reader can hold (F32, F16, BF16, F64, I64, I32,
    /// I16, I8, U8, BOOL). true: also the format's others (U16, U32, U64, F8_E4M3, F8_E5M2),
    /// for readers that pick some tensors out and skip the rest.
    bool anyFormatDtype = false;
};

/// Bytes per element of a safetensors dtype name ("F32" -> 4), 0 when unknown.
std::uint64_t safetensorsDtypeSize(std::string_view dtype);

/// From the file's first 8 bytes (`first8.size() >= 8`) and its total size: how many bytes
/// the length field plus the JSON header take (8 + header length), validated against the
/// file size and `options.maxHeaderBytes`. Throws core::Error naming `nameForErrors`.
std::uint64_t safetensorsPrefixSize(std::string_view first8, std::uint64_t fileSize,
                                    const std::filesystem::path& nameForErrors,
                                    const SafetensorsReadOptions& options = {});

/// Parses and validates a header. `prefix` holds at least the file's first
/// safetensorsPrefixSize() bytes (it may be the whole file); `fileSize` is the whole file's
/// size, against which the tensors' byte ranges are checked (contiguous, no gaps or
/// overlaps, shape x dtype matching, ending exactly at the end of the file).
SafetensorsHeader parseSafetensorsHeader(std::string_view prefix, std::uint64_t fileSize,
                                         const std::filesystem::path& nameForErrors,
                                         const SafetensorsReadOptions& options = {});

/// Same for a whole file held in memory.
inline SafetensorsHeader parseSafetensorsHeader(std::string_view bytes, const std::filesystem::path& nameForErrors,
                                                const SafetensorsReadOptions& options = {}) {
    return parseSafetensorsHeader(bytes, bytes.size(), nameForErrors, options);
}

/// What goes before the data: the 8-byte length and the JSON header, padded with spaces to a
/// multiple of 8. Each entry needs name, dtype and shape; its byte range is assigned here, in
/// the order given (the data must follow in that order; the JSON keys come out sorted).
std::string formatSafetensorsPrefix(std::vector<SafetensorsEntry>& entries,
                                    const std::map<std::string, std::string>& metadata);

/// A float32 matrix to write under a name (not owned).
struct NamedMatrix {
    std::string name;
    const core::Matrix* matrix;
};
/// A whole safetensors file of F32 matrices ([rows, cols] each), in memory.
std::string formatSafetensors(const std::vector<NamedMatrix>& tensors,
                              const std::map<std::string, std::string>& metadata);
/// The same file streamed from views (a memory-mapped matrix is written in blocks, its pages
/// released behind), for exports larger than memory should hold twice.
void writeSafetensors(std::ostream& out, const std::vector<std::pair<std::string, core::MatrixView>>& tensors,
                      const std::map<std::string, std::string>& metadata);
/// Reads every 2-D (or 1-D, as [n, 1]) F32/F64 tensor; other dtypes are skipped. Validates
/// the header and byte ranges; throws core::Error naming the file.
std::map<std::string, core::Matrix> readSafetensorsMatrices(const std::filesystem::path& file,
                                                            std::map<std::string, std::string>* metadata = nullptr);
/// Same from a whole file held in memory; `nameForErrors` is used in messages.
std::map<std::string, core::Matrix> parseSafetensorsMatrices(std::string_view bytes,
                                                             const std::filesystem::path& nameForErrors,
                                                             std::map<std::string, std::string>* metadata = nullptr);

} // namespace vitrine::core::io
