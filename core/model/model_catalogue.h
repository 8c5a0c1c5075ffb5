#pragma once
// Checkpoints people use for image embeddings, downloadable from their publishers in one
// click (Model → Download a Model…). Each is a PyTorch state dict that Vitrine reads without
// running Python (torch_checkpoint.h). Torch-free: the UI lists these.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vitrine::core::model {

struct CatalogueEntry {
    std::string name;  ///< what `--model` accepts once downloaded ("dinov2-vits14")
    std::string title; ///< "DINOv2 ViT-S/14 (Meta, LVD-142M)"
    std::string url;   ///< the publisher's file
    std::string file;  ///< the file name it is saved under
    /// The SHA-256 its publisher gives (64 hex digits), or the prefix of it that the
    /// publisher puts in the file name; empty when none is published (the first download's
    /// hash is then pinned: trust on first use).
    std::string sha256;
    std::string hashSource; ///< where `sha256` is published; empty when unverified
    std::string licence;    ///< "Apache-2.0", ...
    std::string note;       ///< what it is good for
    int approxMegabytes = 0;
    /// The publisher's evaluation preprocessing (PreprocessOptions JSON), used when the
    /// file is loaded by its catalogue name or from the downloads folder.
    std::string preprocess;
    /// The input side the publisher evaluates at, when it differs from the file's position
    /// grid (DINOv2: 518 px grid, 224 px evaluation); 0 = the file's.
    int imageSize = 0;

    bool verified() const { return !sha256.empty(); }
};

/// The catalogue, in menu order. Hashes are only ever copied from a named public source
/// (`hashSource`); the entries without one say "unverified" everywhere they are listed.
const std::vector<CatalogueEntry>& modelCatalogue();
/// The entry called `name`, if any.
std::optional<CatalogueEntry> catalogueEntry(const std::string& name);
/// The entry whose downloaded file is `file` (by file name, in downloadedModelsDir()), if any.
std::optional<CatalogueEntry> catalogueEntryForFile(const std::filesystem::path& file);

/// Where downloads go: $VITRINE_MODEL_DIR, else $XDG_DATA_HOME/vitrine/models, else
/// ~/.local/share/vitrine/models.
std::filesystem::path downloadedModelsDir();
/// The downloaded file of catalogue entry `name`; empty when it has not been downloaded.
std::filesystem::path downloadedModelPath(const std::string& name);

/// `url` with its scheme and host replaced by $VITRINE_MODEL_MIRROR when set (a local mirror,
/// or the tests' server on 127.0.0.1), else unchanged.
std::string mirroredUrl(const std::string& url);

} // namespace vitrine::core::model
