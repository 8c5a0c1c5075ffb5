#pragma once
// Reading and writing the safetensors format (8-byte little-endian header length,
// a JSON header naming every tensor's dtype, shape and byte range, then the raw data).
// The reader validates everything before it allocates (the header parser, torch-free, is
// in safetensors_header.h): a crafted or truncated file is an Error naming the file and
// the problem, never a crash or a huge allocation.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/safetensors_header.h"

namespace vitrine::core::model {

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
