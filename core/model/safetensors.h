#pragma once
// Reading and writing the safetensors format (8-byte little-endian header length,
// a JSON header naming every tensor's dtype, shape and byte range, then the raw data).
// The reader validates everything before it allocates: a crafted or truncated file is
// an Error naming the file and the problem, never a crash or a huge allocation.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

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

/// Reads and validates only the header (cheap: for inspecting/detecting layouts).
SafetensorsHeader readSafetensorsHeader(const std::filesystem::path& file,
                                        const SafetensorsReadOptions& options = {});

struct SafetensorsFile {
    std::map<std::string, at::Tensor> tensors;   ///< CPU, contiguous, dtype per the header
    std::map<std::string, std::string> metadata;
};

/// Reads and validates the whole file. Throws core::Error("<file>: <problem>").
SafetensorsFile readSafetensors(const std::filesystem::path& file, const SafetensorsReadOptions& options = {});

/// Writes `tensors` (any device/layout; copied to contiguous CPU) atomically, sorted by
/// name, header padded to 8 bytes. Throws core::Error for unsupported dtypes or I/O failures.
void writeSafetensors(const std::filesystem::path& file, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

} // namespace vitrine::core::model
