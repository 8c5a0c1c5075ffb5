#pragma once
// Downloading checkpoints (the model catalogue's and any URL) for the window's
// Model → Download… and `vitrine-cli models download`: one implementation for both.
//
// A download goes to "<file>.part" beside its target. A cancelled or broken download keeps
// the part (with "<file>.part.json" naming its URL) and the next download of the same URL
// resumes it with an HTTP range request; a server that ignores ranges restarts it. Nothing
// becomes "<file>" until every byte has arrived and the SHA-256 matches what is expected: the
// publisher's full hash, the hash prefix in the publisher's file name, or — for files whose
// publisher gives no hash — the hash of the first download, pinned in "pins.json" beside the
// models (trust on first use). A file whose hash does not match is deleted, part and all.
//
//   core::CancelToken cancel;
//   auto got = downloadCatalogueModel("dino-vits16", progress, &cancel); // worker thread
//   loadModel(got.file.string(), ...);
//
// Torch-free (libcurl and OpenSSL's SHA-256).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/common/job.h"

namespace vitrine::core::model {

/// How the file's SHA-256 was checked.
enum class HashCheck {
    Published, ///< equal to the full hash its publisher gives
    Prefix,    ///< starts with the prefix in the publisher's file name
    Pinned,    ///< equal to the hash pinned at the first download
    FirstUse,  ///< no published hash and none pinned: this download's hash is now pinned
};
const char* hashCheckName(HashCheck check);

struct DownloadRequest {
    std::string url;
    std::filesystem::path target; ///< the finished file
    std::string expectedSha256;   ///< lower-case hex: 64 digits, a prefix, or empty (pin instead)
    /// With no expected hash: the pins.json key that trusts the first download ("" = none).
    std::string pinKey;
    std::filesystem::path pinsFile; ///< default: pins.json beside `target`
    /// Seconds without a byte before giving up (a stalled server); 0 = libcurl's default.
    int stallSeconds = 60;
};

struct DownloadOutcome {
    std::filesystem::path file;
    std::string sha256;
    std::int64_t bytes = 0;
    std::int64_t resumedFrom = 0; ///< bytes reused from an earlier part (0 = from the start)
    HashCheck check = HashCheck::FirstUse;
};

/// Downloads `request.url` to `request.target` as described above. Progress is in bytes
/// (StageKind::Downloading; total 0 while unknown), called on the calling thread at most every
/// ~100 ms. Throws core::Cancelled when cancelled (the part is kept to resume), core::Error
/// with a message that says what happened and what to do otherwise.
DownloadOutcome downloadFile(const DownloadRequest& request, const ProgressFn& progress = {},
                             const CancelToken* cancel = nullptr);

/// The catalogue entry `name` into downloadedModelsDir(), from its publisher's URL (or
/// $VITRINE_MODEL_MIRROR), checked against its published hash or pinned. Throws core::Error
/// naming the known models for an unknown name.
DownloadOutcome downloadCatalogueModel(const std::string& name, const ProgressFn& progress = {},
                                       const CancelToken* cancel = nullptr);

/// The hash pinned for catalogue entry `name` at its first download, if any.
std::optional<std::string> pinnedSha256(const std::string& name);
/// Bytes of an unfinished download of `name` kept to resume (0 when none).
std::int64_t partialDownloadBytes(const std::string& name);

/// SHA-256 of a file, lower-case hex. Throws core::Error when it cannot be read.
std::string sha256OfFile(const std::filesystem::path& file, const CancelToken* cancel = nullptr);

} // namespace vitrine::core::model
