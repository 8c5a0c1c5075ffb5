#pragma once
// Sharded embedding for clusters: `vitrine-cli embed --shard I/N` embeds a deterministic 1/N of
// a data set's files, chosen by a hash of each file's path relative to the data set root —
// stable whatever order the files are listed in, and the same on every machine — and
// `vitrine-cli merge` joins the shards into the output one process would have written,
// checking that they come from the same model, preprocessing, precision and file list.
// Torch-free.
//
//   const auto shard = parseShard("3/8");                 // shard 3 of 8 (0-based)
//   std::erase_if(ds.samples, [&](const Sample& s) { return !inShard(s.relativePath, shard); });

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/data/dataset.h"

namespace vitrine::core::data {

struct ShardSpec {
    int index = 0; ///< 0-based, < count
    int count = 1;
    bool whole() const { return count == 1; }
};

/// "I/N" with 0 <= I < N <= 100000 (e.g. "$SLURM_ARRAY_TASK_ID/8"); throws core::Error saying
/// what is wrong otherwise.
ShardSpec parseShard(const std::string& text);

/// The shard (0..count-1) a relative path belongs to: FNV-1a 64 of its '/'-separated form,
/// modulo `count`.
int shardOfPath(const std::string& relativePath, int count);
inline bool inShard(const std::string& relativePath, const ShardSpec& shard) {
    return shard.whole() || shardOfPath(relativePath, shard.count) == shard.index;
}

/// A fingerprint of the data set's file list (every sample's relative path): equal for the
/// same files however they were listed, different when an image was added, removed or
/// renamed. 16 hex digits.
std::string fileListFingerprint(const Dataset& dataset);

/// "<out>.shard.json": what `embed --shard` records beside its output for `merge`.
inline std::filesystem::path shardSidecarPath(const std::filesystem::path& out) {
    return std::filesystem::path(out.string() + ".shard.json");
}

} // namespace vitrine::core::data
