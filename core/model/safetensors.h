#pragma once
// Safetensors files as at::Tensor maps (model checkpoints and imported weights). The format
// itself (header parser and writer, torch-free) is core/io/safetensors_format.h; this adds
// the tensors. A crafted or truncated file is an Error naming the file and the problem,
// never a crash or a huge allocation.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/io/safetensors_format.h"

namespace vitrine::core::model {

/// Reads and validates only the header (cheap: for inspecting/detecting layouts).
io::SafetensorsHeader readSafetensorsHeader(const std::filesystem::path& file,
                                            const io::SafetensorsReadOptions& options = {});

struct SafetensorsFile {
    std::map<std::string, at::Tensor> tensors; ///< CPU, contiguous, dtype per the header
    std::map<std::string, std::string> metadata;
};

/// Reads and validates the whole file. Throws core::Error("<file>: <problem>").
SafetensorsFile readSafetensors(const std::filesystem::path& file, const io::SafetensorsReadOptions& options = {});

/// Writes `tensors` (any device/layout; copied to contiguous CPU) atomically, sorted by
/// name, header padded to 8 bytes. Throws core::Error for unsupported dtypes or I/O failures.
void writeSafetensors(const std::filesystem::path& file, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

} // namespace vitrine::core::model
