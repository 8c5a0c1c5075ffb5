#pragma once
// What dropping or adding files and folders contributes to an open data set: the rules the
// window's drop and "Add" actions follow, here so that they are testable without a window.
// The walk of a folder itself (accepted extensions, recursion, hidden files and folders,
// symbolic links and their loops, unreadable entries) is scanFolder's (dataset.h); files
// already in the data set are skipped when the samples are merged (Dataset::merge).
// No torch and no Qt here.

#include "core/common/job.h"
#include "core/common/skipped.h"
#include "core/data/dataset.h"

#include <filesystem>
#include <string>
#include <vector>

namespace vitrine::core::data {

/// The samples an import contributes and the files it passed over, with reasons.
struct Import {
    std::vector<Sample> samples;
    std::vector<Skipped> skipped;
};

/// Scans each folder as scanFolder does and names its samples as an added part of a data
/// set: a folder of loose images is one class named after the folder; a folder of class
/// folders adds each class. Relative paths start with the folder's name ("cats/a.jpg",
/// "pets/cat/a.jpg"). Throws what scanFolder throws (a missing folder, cancellation).
Import importFolders(const std::vector<std::filesystem::path>& folders, const ScanOptions& options = {},
                     const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);

/// Sorts dropped files into usable images (`samples`, with only `path` set, as given) and
/// the rest (`skipped`): "not a file" (a folder, a missing path), "not an image file
/// (extension '.txt')", or the header check's reason (checkImageFile without decoding).
Import checkDroppedFiles(const std::vector<std::filesystem::path>& files);

/// The labels a file added to class `name` (as named at label `level`, -1 the deepest)
/// takes: an existing class keeps its parents ("cat/Bengal"), so every level stays right;
/// a new class is one label.
std::vector<std::string> labelsForClass(const Dataset& dataset, int level, const std::string& name);

/// Samples for `files` added to a class with `labels`: absolute paths, relative paths
/// "<labels joined by '/'>/<file name>".
std::vector<Sample> samplesForClass(const std::vector<std::filesystem::path>& files,
                                    const std::vector<std::string>& labels);

} // namespace vitrine::core::data
