#pragma once
// A selection of images (from the map, the neighbours, an audit list) turned into a result a
// person can keep: a CSV list, a copy as an ImageFolder tree, or a montage PNG. Torch-free
// (OpenCV only), so the GUI's worker can include it; the CLI's `select` calls the same code.
//
// Intended usage (from a worker thread):
//   std::vector<SelectedImage> sel = {{"cat/a.jpg", "cat"}, {"dog/b.jpg", "dog", 0.93}};
//   writeSelectionCsv(out / "picked.csv", sel);
//   auto copied = copyAsImageFolder(dataRoot, sel, out / "subset", progress, &cancel);
//   MontageOptions mo;  mo.columns = 6;
//   auto m = renderMontage(dataRoot, sel, mo, attentionMaps, progress, &cancel);
//   analysis::writePng(out / "montage.png", m.image);   // or writeMontage(...)
//
// Guarantees:
// - The source images are only ever read.
// - Every file is written atomically: the CSV and the PNG through io::writeFileAtomically, each
//   copied image into a hidden temporary beside its destination, fsync'd, then renamed into
//   place without replacing anything (RENAME_NOREPLACE).
// - A name clash never overwrites: "x.jpg" becomes "x (2).jpg" (data::clashFreeName, the rule
//   the file actions use), whether the clash is with a file already there or within the selection.
// - An image that cannot be decoded does not stop a montage: its cell is a placeholder (dark,
//   crossed, captioned "unreadable") and MontageResult::warnings names the file and the reason.
//   A montage is a picture of many images; one bad file should show, not cost the rest.

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "core/analysis/heatmap.h"
#include "core/common/job.h"

namespace vitrine::core::analysis {

struct SelectedImage {
    std::string path;  ///< relative to the data set folder ('/'-separated), or absolute
    std::string label; ///< class name; "" = unlabelled
    /// Optional score (a mislabel score, a distance, an overlap); NaN = none.
    double score = std::numeric_limits<double>::quiet_NaN();
};

/// CSV text: a header "path,label" (",score" when any image has a score), one RFC 4180 record
/// per image (io::csvField: fields with commas, quotes or line breaks are quoted; UTF-8 as is),
/// CRLF line ends as RFC 4180 asks. Scores are written with 9 significant digits; an image
/// without one gets an empty field.
std::string formatSelectionCsv(const std::vector<SelectedImage>& images);
/// formatSelectionCsv written atomically. Throws core::Error naming the file.
void writeSelectionCsv(const std::filesystem::path& file, const std::vector<SelectedImage>& images);
/// Reads what writeSelectionCsv wrote (or any CSV whose header has "path", optionally "label"
/// and "score"). Throws core::Error naming the file on a missing column or bad score.
std::vector<SelectedImage> readSelectionCsv(const std::filesystem::path& file);

struct CopiedImage {
    std::filesystem::path source;      ///< the image read
    std::filesystem::path destination; ///< where the copy is (its name may carry " (2)")
};

/// The folder name a label gets in an ImageFolder copy: "" -> "unlabelled"; '/', '\\' and NUL
/// become '_'; "." and ".." get a leading '_' (so no label leads outside `outDir`).
std::string labelFolderName(const std::string& label);

/// Copies every image to `outDir`/<labelFolderName(label)>/<file name> (folders created as
/// needed; `outDir` may already hold files, which are never replaced). Relative paths are taken
/// relative to `root`. Progress: StageKind::Copying (images). Throws core::Error naming the file
/// (missing source, unreadable, disk full, ...) — images copied before it stay, complete;
/// core::Cancelled between files.
std::vector<CopiedImage> copyAsImageFolder(const std::filesystem::path& root, const std::vector<SelectedImage>& images,
                                           const std::filesystem::path& outDir, const ProgressFn& progress = {},
                                           const CancelToken* cancel = nullptr);

struct MontageOptions {
    int columns = 0; ///< cells per row; 0 = about square (ceil(sqrt(N)))
    int cell = 160;  ///< side of each square cell in pixels (the image letterboxed into it)
    int gap = 4;     ///< pixels between cells and around the edge
    enum class Caption { None, FileName, Label, Both };
    /// The line under each cell: the file name, the label, or "label: file name". Drawn with
    /// OpenCV's Hershey font, which has ASCII only: other characters show as '?'. Long captions
    /// are cut to the cell's width with "...".
    Caption caption = Caption::FileName;
    cv::Scalar background{32, 32, 32}; ///< RGB, behind cells, gaps and letterbox bars
    /// How per-image attention maps are drawn over the image (analysis::renderHeatmap).
    analysis::HeatmapStyle heatmap{};
};

struct MontageResult {
    cv::Mat image; ///< CV_8UC3 RGB
    /// Per image, the rectangle its (letterboxed) picture occupies in `image`: for hit-testing
    /// a click, and what the tests compare against the source.
    std::vector<cv::Rect> pictures;
    std::vector<cv::Rect> cells; ///< per image, its whole square cell (caption strip not included)
    /// "path: reason" for each image drawn as a placeholder.
    std::vector<std::string> warnings;
};

/// A grid of thumbnails of `images` in order, row by row: each decoded (core/image/decode.h,
/// EXIF orientation applied), scaled to fit a `cell` x `cell` square keeping its aspect ratio,
/// centred on the background, with an optional caption under it. `maps`: empty, or one per
/// image — a g x g CV_32F attention map (any g, empty Mat = none for that image) coloured and
/// blended over the whole picture with options.heatmap before it is scaled. Progress:
/// StageKind::Drawing (images). Throws core::Error on bad options or a maps list of the wrong size;
/// core::Cancelled between images.
MontageResult renderMontage(const std::filesystem::path& root, const std::vector<SelectedImage>& images,
                            const MontageOptions& options = {}, const std::vector<cv::Mat>& maps = {},
                            const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);

/// renderMontage, then the PNG written atomically (analysis::writePng). Returns the result
/// (its warnings in particular).
MontageResult writeMontage(const std::filesystem::path& file, const std::filesystem::path& root,
                           const std::vector<SelectedImage>& images, const MontageOptions& options = {},
                           const std::vector<cv::Mat>& maps = {}, const ProgressFn& progress = {},
                           const CancelToken* cancel = nullptr);

} // namespace vitrine::core::analysis
