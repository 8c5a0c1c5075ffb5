#pragma once
// A reader for PyTorch checkpoints (.pth/.pt/.bin/.ckpt as torch.save() writes them since
// PyTorch 1.6: a zip archive holding data.pkl and one entry per storage) that never runs
// Python: data.pkl is interpreted by a small pickle machine that knows only what a state
// dict is made of — dicts, lists, tuples, numbers, strings, collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter(_with_state) and the storage types —
// the contract of torch.load(weights_only=True). Any other global is refused by name before
// anything is built. TorchScript archives (torch.jit.save: OpenAI's CLIP downloads) are read
// the same way: their "__torch__.…" classes are records of attributes whose tensors are the
// module's state dict; none of the archive's code is read or run. Torch-free: this is a fuzz
// target (fuzz_torch_checkpoint).

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vitrine::core::model {

/// One tensor of the state dict, pointing into the archive's bytes.
struct PickledTensor {
    std::string dtype; ///< safetensors names: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> stride; ///< in elements
    std::int64_t offset = 0;          ///< in elements, into the storage
    std::string_view storage;         ///< the storage's bytes (a view into the archive)
};

struct TorchCheckpoint {
    /// The tensors of the state dict found, by name (prefixes such as "module." kept).
    std::map<std::string, PickledTensor> tensors;
    /// Where it was found: "" (the top level), or the wrapper key ("model", "teacher", ...).
    std::string wrapper;
    /// The top-level keys beside it (epoch, optimizer, ...), for messages.
    std::vector<std::string> otherKeys;
};

/// Parses a torch.save() archive held in `bytes` (which must outlive the result).
/// Throws core::Error("<name>: <problem>") for anything else: a legacy (pre-1.6) or raw
/// pickle, a compressed or truncated archive, a global outside the allow-list (named), a
/// malformed pickle, or tensors that do not fit their storage.
TorchCheckpoint parseTorchCheckpoint(std::string_view bytes, const std::filesystem::path& nameForErrors);

/// True when `bytes` start like a torch.save() file (zip) or a raw pickle.
bool looksLikeTorchFile(std::string_view bytes);

/// The size in bytes of one element of a dtype name above (0 when unknown).
std::size_t torchDtypeSize(const std::string& dtype);

} // namespace vitrine::core::model
