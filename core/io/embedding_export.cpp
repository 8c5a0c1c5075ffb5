#include "core/io/embedding_export.h"

#include <atomic>
#include <charconv>
#include <cmath>
#include <sstream>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/image/decode.h"
#include "core/io/atomic_file.h"
#include "core/io/csv.h"
#include "core/io/npy.h"
#include "core/io/safetensors_format.h"

namespace vitrine::core::io {

namespace fs = std::filesystem;

ExportFormat parseExportFormat(std::string_view name) {
    if (name == "npy")
        return ExportFormat::Npy;
    if (name == "csv")
        return ExportFormat::Csv;
    if (name == "safetensors")
        return ExportFormat::Safetensors;
    if (name == "projector")
        return ExportFormat::Projector;
    throw Error("unknown export format '" + std::string(name) + "'; use npy, csv, safetensors or projector");
}

int spriteThumbnailSide(std::int64_t count, int maxThumbnail, int maxSide) {
    const auto grid = static_cast<std::int64_t>(
        std::ceil(std::sqrt(static_cast<double>(std::max<std::int64_t>(count, 1)))));
    return static_cast<int>(std::min<std::int64_t>(maxThumbnail, maxSide / grid));
}

namespace {

// Shortest text that reads back as the same float.
void appendFloat(std::string& out, float v) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, p);
}

void checkShapes(const ExportSource& set) {
    if (set.rows.size() != set.embeddings.rows)
        throw Error("export: " + std::to_string(set.embeddings.rows) + " embeddings but " +
                    std::to_string(set.rows.size()) + " metadata rows");
    if (!set.coords.empty() && (set.coords.rows != set.embeddings.rows || set.coords.cols != 2))
        throw Error("export: coordinates must be [N, 2] with N = " + std::to_string(set.embeddings.rows));
}

// TensorBoard's metadata.tsv has no escaping: tabs and line breaks would split fields.
std::string projectorField(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        if (c == '\t' || c == '\n' || c == '\r')
            c = ' ';
    return out;
}

cv::Mat thumbnail(const fs::path& file, int side) {
    image::DecodeOptions o;
    o.minShortSide = side;
    cv::Mat rgb = image::decodeRgb(file, o);
    // Fit inside the tile, keeping the aspect ratio; letterbox in black.
    const double scale = static_cast<double>(side) / std::max(rgb.cols, rgb.rows);
    cv::Mat small;
    cv::resize(rgb, small,
               cv::Size(std::max(1, static_cast<int>(std::lround(rgb.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(rgb.rows * scale)))),
               0, 0, cv::INTER_AREA);
    cv::Mat tile(side, side, CV_8UC3, cv::Scalar(0, 0, 0));
    small.copyTo(tile(cv::Rect((side - small.cols) / 2, (side - small.rows) / 2, small.cols, small.rows)));
    return tile;
}

void writeProjector(const ExportSource& set, const fs::path& dir, const ExportOptions& options, ExportResult& result,
                    const ProgressFn& progress, const CancelToken* cancel) {
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
        throw Error(dir, "is a file; the projector export needs a folder to write its four files into");
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(dir, "cannot create the export folder: " + ec.message());
    const std::int64_t n = set.embeddings.rows, e = set.embeddings.cols;

    // Everything is produced in memory first so a failure (unreadable data, cancel) writes nothing.
    std::string tensors;
    tensors.reserve(static_cast<std::size_t>(n * e * 10));
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < e; ++j) {
            if (j)
                tensors += '\t';
            appendFloat(tensors, set.embeddings(i, j));
        }
        tensors += '\n';
    }
    std::string metadata;
    for (std::size_t c = 0; c < set.rows.columns.size(); ++c)
        metadata += (c ? "\t" : "") + projectorField(set.rows.columns[c]);
    metadata += '\n';
    for (const auto& r : set.rows.rows) {
        for (std::size_t c = 0; c < r.size(); ++c)
            metadata += (c ? "\t" : "") + projectorField(r[c]);
        metadata += '\n';
    }

    std::vector<uchar> png;
    if (options.sprite) {
        const int side = spriteThumbnailSide(n, options.maxThumbnail, options.maxSpriteSide);
        if (side < 1)
            throw Error(dir, std::to_string(n) + " rows do not fit one sprite of " +
                                 std::to_string(options.maxSpriteSide) + " px per side; export without a sprite");
        result.thumbnailSide = side;
        const int grid = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(std::max<std::int64_t>(n, 1)))));
        cv::Mat sprite(grid * side, grid * side, CV_8UC3, cv::Scalar(0, 0, 0));
        std::atomic<int> missing{0};
        std::atomic<std::int64_t> done{0};
        const int pathCol = set.rows.column("path");
        const std::int64_t block = 256;
        for (std::int64_t start = 0; start < n; start += block) {
            if (cancel)
                cancel->check();
            at::parallel_for(start, std::min(n, start + block), 1, [&](std::int64_t b, std::int64_t en) {
                for (std::int64_t i = b; i < en; ++i) {
                    fs::path p = fs::u8path(
                        set.rows.rows[static_cast<std::size_t>(i)][static_cast<std::size_t>(pathCol)]);
                    if (p.is_relative() && !options.imagesRoot.empty())
                        p = options.imagesRoot / p;
                    cv::Rect cell(static_cast<int>(i % grid) * side, static_cast<int>(i / grid) * side, side, side);
                    try {
                        thumbnail(p, side).copyTo(sprite(cell));
                    } catch (const std::exception&) {
                        sprite(cell).setTo(cv::Scalar(128, 128, 128));
                        ++missing;
                    }
                }
            });
            done = std::min(n, start + block);
            report(progress, done, n, StageKind::Thumbnails);
        }
        result.missingImages = missing;
        cv::Mat bgr;
        cv::cvtColor(sprite, bgr, cv::COLOR_RGB2BGR);
        if (!cv::imencode(".png", bgr, png))
            throw Error(dir / "sprite.png", "PNG encoding failed");
    }
    std::ostringstream config;
    config << "embeddings {\n"
           << "  tensor_name: \"vitrine\"\n"
           << "  tensor_path: \"tensors.tsv\"\n"
           << "  metadata_path: \"metadata.tsv\"\n";
    if (options.sprite)
        config << "  sprite {\n"
               << "    image_path: \"sprite.png\"\n"
               << "    single_image_dim: " << result.thumbnailSide << "\n"
               << "    single_image_dim: " << result.thumbnailSide << "\n"
               << "  }\n";
    config << "}\n";
    if (cancel)
        cancel->check();
    // The config goes last: a bundle whose config exists is complete.
    writeFileAtomically(dir / "tensors.tsv", tensors);
    result.files.push_back(dir / "tensors.tsv");
    writeFileAtomically(dir / "metadata.tsv", metadata);
    result.files.push_back(dir / "metadata.tsv");
    if (options.sprite) {
        writeFileAtomically(dir / "sprite.png",
                            std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
        result.files.push_back(dir / "sprite.png");
    }
    writeFileAtomically(dir / "projector_config.pbtxt", config.str());
    result.files.push_back(dir / "projector_config.pbtxt");
}

} // namespace

ExportResult exportEmbeddings(const EmbeddingSet& set, const fs::path& out, const ExportOptions& options,
                              const ProgressFn& progress, const CancelToken* cancel) {
    return exportEmbeddings(ExportSource{set.embeddings, set.rows, set.coords}, out, options, progress, cancel);
}

ExportResult exportEmbeddings(const ExportSource& set, const fs::path& out, const ExportOptions& options,
                              const ProgressFn& progress, const CancelToken* cancel) {
    checkShapes(set);
    ExportResult result;
    switch (options.format) {
    case ExportFormat::Npy: {
        writeNpyMatrix(out, set.embeddings);
        result.files.push_back(out);
        writeRowTable(rowsSidecarPath(out), set.rows);
        result.files.push_back(rowsSidecarPath(out));
        if (!set.coords.empty()) {
            fs::path coords = out;
            coords.replace_extension(".coords.npy");
            writeNpyMatrix(coords, set.coords);
            result.files.push_back(coords);
        }
        break;
    }
    case ExportFormat::Csv: {
        writeFileAtomically(out, [&](std::ostream& os) {
            std::string line;
            for (const auto& c : set.rows.columns)
                line += csvField(c) + ",";
            for (std::int64_t j = 0; j < set.embeddings.cols; ++j)
                line += "e" + std::to_string(j) + (j + 1 < set.embeddings.cols || !set.coords.empty() ? "," : "");
            if (!set.coords.empty())
                line += "x,y";
            os << line << "\r\n";
            for (std::int64_t i = 0; i < set.embeddings.rows; ++i) {
                if (cancel && (i & 4095) == 0)
                    cancel->check();
                line.clear();
                for (const auto& f : set.rows.rows[static_cast<std::size_t>(i)])
                    line += csvField(f) + ",";
                for (std::int64_t j = 0; j < set.embeddings.cols; ++j) {
                    appendFloat(line, set.embeddings(i, j));
                    if (j + 1 < set.embeddings.cols || !set.coords.empty())
                        line += ',';
                }
                if (!set.coords.empty()) {
                    appendFloat(line, set.coords(i, 0));
                    line += ',';
                    appendFloat(line, set.coords(i, 1));
                }
                os << line << "\r\n";
                if ((i & 4095) == 4095)
                    set.embeddings.releasePages(i - 4095, i + 1);
            }
        });
        result.files.push_back(out);
        break;
    }
    case ExportFormat::Safetensors: {
        std::vector<std::pair<std::string, core::MatrixView>> tensors{{"embeddings", set.embeddings}};
        if (!set.coords.empty())
            tensors.emplace_back("coords", set.coords);
        nlohmann::json rows{{"columns", set.rows.columns}, {"rows", set.rows.rows}};
        std::map<std::string, std::string> meta{{"format", "vitrine-embeddings"}, {"rows", rows.dump()}};
        writeFileAtomically(out, [&](std::ostream& os) { writeSafetensors(os, tensors, meta); });
        result.files.push_back(out);
        break;
    }
    case ExportFormat::Projector: writeProjector(set, out, options, result, progress, cancel); break;
    }
    return result;
}

} // namespace vitrine::core::io
