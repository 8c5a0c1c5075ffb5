#pragma once
// The safetensors header (8-byte little-endian length, then JSON naming every tensor's
// dtype, shape and byte range) parsed from bytes, torch-free: the file readers in
// safetensors.h use it, and so does the fuzz target. Everything is validated before
// anything is allocated from it: a crafted or truncated header is a core::Error naming
// the file and the problem, never a crash or a huge allocation.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vitrine::core::model {

/// One tensor as described by a header (no data).
struct SafetensorsEntry {
    std::string name;
    std::string dtype;               ///< "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0, end = 0; ///< byte range relative to the start of the data section
};

struct SafetensorsHeader {
    std::vector<SafetensorsEntry> entries;        ///< ordered by data offset
    std::map<std::string, std::string> metadata;  ///< "__metadata__" (string -> string)
    std::uint64_t dataStart = 0;                  ///< absolute file offset of the data section
};

struct SafetensorsReadOptions {
    std::uint64_t maxHeaderBytes = 100ull << 20; ///< refuse larger JSON headers (100 MB)
};

/// Bytes per element of a safetensors dtype name ("F32" -> 4), 0 when unsupported.
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

} // namespace vitrine::core::model
