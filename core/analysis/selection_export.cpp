#include "core/analysis/selection_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/data/file_actions.h"
#include "core/image/decode.h"
#include "core/io/atomic_file.h"
#include "core/io/csv.h"
#include "core/io/embedding_set.h"

namespace fs = std::filesystem;

namespace vitrine::core::analysis {

using io::csvField;
using io::parseCsv;
using io::writeFileAtomically;

namespace {

std::string errnoText(int err) { return std::strerror(err); }

fs::path sourcePath(const fs::path& root, const std::string& path) {
    const fs::path p(path);
    return p.is_absolute() ? p : root / p;
}

void fsyncDir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

/// Closes a descriptor on every way out.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0)
            ::close(fd);
    }
};

/// Copies `src` into `dir` as `name`, or a clash-free variant of it: the bytes go to a hidden
/// temporary beside the destination, are fsync'd, and the temporary is renamed into place
/// without replacing anything. Returns the destination.
fs::path copyNoReplace(const fs::path& src, const fs::path& dir, const std::string& name) {
    Fd in{::open(src.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0)
        throw Error(src, "cannot read: " + errnoText(errno));
    struct stat st {};
    if (::fstat(in.fd, &st) != 0)
        throw Error(src, "cannot read: " + errnoText(errno));
    if (!S_ISREG(st.st_mode))
        throw Error(src, "not a regular file; not copied");

    static std::atomic<unsigned> counter{0};
    const fs::path part = dir / ("." + name + "." + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
                                 ".vitrine-part");
    {
        Fd out{::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0666)};
        if (out.fd < 0)
            throw Error(dir, "cannot create a file here: " + errnoText(errno));
        std::vector<char> buf(1 << 20);
        int err = 0;
        for (;;) {
            const ssize_t n = ::read(in.fd, buf.data(), buf.size());
            if (n == 0)
                break;
            if (n < 0 || ::write(out.fd, buf.data(), static_cast<std::size_t>(n)) != n) {
                err = errno ? errno : EIO;
                break;
            }
        }
        const timespec times[2] = {st.st_atim, st.st_mtim};
        ::futimens(out.fd, times);
        if (err == 0 && ::fsync(out.fd) != 0)
            err = errno;
        if (err != 0) {
            ::unlink(part.c_str());
            throw Error(dir / name, "cannot copy " + src.string() + " here: " + errnoText(err));
        }
    }
    for (;;) {
        const std::string free = data::clashFreeName(name, [&](const std::string& n) {
            std::error_code ec;
            return !fs::exists(fs::symlink_status(dir / n, ec));
        });
        fs::path dst = dir / free;
        if (::renameat2(AT_FDCWD, part.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) == 0) {
            fsyncDir(dir);
            return dst;
        }
        int err = errno;
        if ((err == EINVAL || err == ENOSYS) && ::link(part.c_str(), dst.c_str()) == 0) {
            // No RENAME_NOREPLACE on this file system: link() never replaces either.
            ::unlink(part.c_str());
            fsyncDir(dir);
            return dst;
        } else if (err == EINVAL || err == ENOSYS) {
            err = errno;
        }
        if (err != EEXIST) { // EEXIST: a file took the name meanwhile; try the next one
            ::unlink(part.c_str());
            throw Error(dst, "cannot move the copy into place: " + errnoText(err));
        }
    }
}

/// The caption's bytes with every non-ASCII UTF-8 sequence as one '?' (Hershey fonts are ASCII).
std::string asciiCaption(const std::string& s) {
    std::string out;
    for (unsigned char ch : s) {
        if (ch < 0x80)
            out += (ch < 0x20 ? '?' : static_cast<char>(ch));
        else if ((ch & 0xC0) != 0x80)
            out += '?';
    }
    return out;
}

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

std::string fitCaption(std::string text, double scale, int width) {
    int baseline = 0;
    if (cv::getTextSize(text, kFont, scale, 1, &baseline).width <= width)
        return text;
    while (!text.empty() && cv::getTextSize(text + "...", kFont, scale, 1, &baseline).width > width)
        text.pop_back();
    return text + "...";
}

cv::Mat letterbox(const cv::Mat& rgb, int cell, const cv::Scalar& background, cv::Rect* picture) {
    const double f = std::min(double(cell) / rgb.cols, double(cell) / rgb.rows);
    const cv::Size size(std::clamp(int(std::lround(rgb.cols * f)), 1, cell),
                        std::clamp(int(std::lround(rgb.rows * f)), 1, cell));
    cv::Mat out(cell, cell, CV_8UC3, background);
    *picture = cv::Rect((cell - size.width) / 2, (cell - size.height) / 2, size.width, size.height);
    cv::resize(rgb, out(*picture), size, 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
}

} // namespace

std::string formatSelectionCsv(const std::vector<SelectedImage>& images) {
    const bool scores = std::any_of(images.begin(), images.end(), [](const auto& i) { return !std::isnan(i.score); });
    std::ostringstream os;
    os << (scores ? "path,label,score\r\n" : "path,label\r\n");
    for (const auto& img : images) {
        os << csvField(img.path) << ',' << csvField(img.label);
        if (scores) {
            os << ',';
            if (!std::isnan(img.score)) {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.9g", img.score);
                os << buf;
            }
        }
        os << "\r\n";
    }
    return os.str();
}

void writeSelectionCsv(const fs::path& file, const std::vector<SelectedImage>& images) {
    writeFileAtomically(file, formatSelectionCsv(images));
}

std::vector<SelectedImage> readSelectionCsv(const fs::path& file) {
    const auto records = parseCsv(readFile(file), file);
    if (records.empty())
        throw Error(file, "empty (no header line)");
    const auto& header = records.front();
    auto column = [&](const std::string& name) {
        auto it = std::find(header.begin(), header.end(), name);
        return it == header.end() ? -1 : static_cast<int>(it - header.begin());
    };
    const int pc = column("path"), lc = column("label"), sc = column("score");
    if (pc < 0)
        throw Error(file, "no \"path\" column in the header line");
    std::vector<SelectedImage> out;
    for (std::size_t r = 1; r < records.size(); ++r) {
        const auto& rec = records[r];
        auto field = [&](int c) {
            return c >= 0 && static_cast<std::size_t>(c) < rec.size() ? rec[std::size_t(c)] : std::string();
        };
        SelectedImage img{field(pc), field(lc)};
        if (const auto s = field(sc); !s.empty()) {
            char* end = nullptr;
            img.score = std::strtod(s.c_str(), &end);
            if (end != s.c_str() + s.size())
                throw Error(file, "record " + std::to_string(r + 1) + ": score \"" + s + "\" is not a number");
        }
        out.push_back(std::move(img));
    }
    return out;
}

std::string labelFolderName(const std::string& label) {
    if (label.empty())
        return "unlabelled";
    std::string out = label;
    for (char& ch : out)
        if (ch == '/' || ch == '\\' || ch == '\0')
            ch = '_';
    if (out == "." || out == "..")
        out = "_" + out;
    return out;
}

std::vector<CopiedImage> copyAsImageFolder(const fs::path& root, const std::vector<SelectedImage>& images,
                                           const fs::path& outDir, const ProgressFn& progress,
                                           const CancelToken* cancel) {
    std::vector<CopiedImage> copied;
    const auto total = static_cast<long long>(images.size());
    report(progress, 0, total, StageKind::Copying);
    for (const auto& img : images) {
        if (cancel)
            cancel->check();
        const fs::path src = sourcePath(root, img.path);
        const std::string name = src.filename().string();
        if (name.empty() || name == "." || name == "..")
            throw Error(src, "names no file; not copied");
        const fs::path dir = outDir / labelFolderName(img.label);
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec || !fs::is_directory(dir))
            throw Error(dir, "cannot create the folder" + (ec ? ": " + ec.message() : std::string()));
        copied.push_back({src, copyNoReplace(src, dir, name)});
        report(progress, static_cast<long long>(copied.size()), total, StageKind::Copying);
    }
    return copied;
}

MontageResult renderMontage(const fs::path& root, const std::vector<SelectedImage>& images,
                            const MontageOptions& options, const std::vector<cv::Mat>& maps, const ProgressFn& progress,
                            const CancelToken* cancel) {
    if (images.empty())
        throw Error("montage: no images to put in it");
    if (options.cell < 16 || options.cell > 4096)
        throw Error("montage: the cell size must be between 16 and 4096 pixels (got " + std::to_string(options.cell) +
                    ")");
    if (options.gap < 0 || options.gap > 256 || options.columns < 0)
        throw Error("montage: the gap must be in [0, 256] and the columns not negative");
    if (!maps.empty() && maps.size() != images.size())
        throw Error("montage: " + std::to_string(maps.size()) + " attention maps for " + std::to_string(images.size()) +
                    " images; give one per image (an empty map for none) or none at all");
    for (std::size_t i = 0; i < maps.size(); ++i)
        if (!maps[i].empty() && maps[i].type() != CV_32FC1)
            throw Error(images[i].path, "its attention map is not a single-channel float (CV_32F) grid");
    const int n = static_cast<int>(images.size());
    const int cols = options.columns > 0 ? std::min(options.columns, n) : int(std::ceil(std::sqrt(double(n))));
    const int rows = (n + cols - 1) / cols;
    const int cell = options.cell, gap = options.gap;
    const bool captions = options.caption != MontageOptions::Caption::None;
    const double fontScale = std::clamp(cell / 320.0, 0.35, 1.0);
    int baseline = 0;
    const int textHeight = cv::getTextSize("Hg", kFont, fontScale, 1, &baseline).height;
    const int strip = captions ? textHeight + baseline + 6 : 0;
    const std::int64_t width = std::int64_t(cols) * cell + std::int64_t(cols + 1) * gap;
    const std::int64_t height = std::int64_t(rows) * (cell + strip) + std::int64_t(rows + 1) * gap;
    if (width * height > 400'000'000)
        throw Error("montage: " + std::to_string(width) + " x " + std::to_string(height) +
                    " pixels is too large; use smaller cells or fewer images");

    MontageResult res;
    res.image = cv::Mat(int(height), int(width), CV_8UC3, options.background);
    image::DecodeOptions decode;
    decode.minShortSide = cell; // JPEGs decode at a reduced scale when that still covers the cell
    for (int i = 0; i < n; ++i) {
        if (cancel)
            cancel->check();
        const auto& img = images[std::size_t(i)];
        const cv::Rect cellRect(gap + (i % cols) * (cell + gap), gap + (i / cols) * (cell + strip + gap), cell, cell);
        res.cells.push_back(cellRect);
        std::string caption;
        const std::string fileName = fs::path(img.path).filename().string();
        switch (options.caption) {
        case MontageOptions::Caption::None: break;
        case MontageOptions::Caption::FileName: caption = fileName; break;
        case MontageOptions::Caption::Label: caption = img.label; break;
        case MontageOptions::Caption::Both: caption = img.label.empty() ? fileName : img.label + ": " + fileName; break;
        }
        cv::Mat rgb;
        try {
            rgb = image::decodeRgb(sourcePath(root, img.path), decode);
        } catch (const Error& e) {
            res.warnings.push_back(e.what());
        }
        if (rgb.empty()) { // the placeholder: a dark, crossed cell
            res.image(cellRect).setTo(cv::Scalar(64, 64, 64));
            cv::line(res.image, cellRect.tl(), cellRect.br() - cv::Point(1, 1), cv::Scalar(170, 70, 70), 2,
                     cv::LINE_AA);
            cv::line(res.image, {cellRect.x, cellRect.br().y - 1}, {cellRect.br().x - 1, cellRect.y},
                     cv::Scalar(170, 70, 70), 2, cv::LINE_AA);
            res.pictures.push_back(cellRect);
            caption = "unreadable: " + fileName;
        } else {
            if (!maps.empty() && !maps[std::size_t(i)].empty())
                rgb = analysis::renderHeatmap(rgb, maps[std::size_t(i)], options.heatmap);
            cv::Rect picture;
            letterbox(rgb, cell, options.background, &picture).copyTo(res.image(cellRect));
            res.pictures.push_back(picture + cellRect.tl());
        }
        if (captions && !caption.empty()) {
            const std::string text = fitCaption(asciiCaption(caption), fontScale, cell - 4);
            cv::putText(res.image, text, {cellRect.x + 2, cellRect.br().y + 3 + textHeight}, kFont, fontScale,
                        cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
        }
        report(progress, i + 1, n, StageKind::Drawing);
    }
    return res;
}

MontageResult writeMontage(const fs::path& file, const fs::path& root, const std::vector<SelectedImage>& images,
                           const MontageOptions& options, const std::vector<cv::Mat>& maps, const ProgressFn& progress,
                           const CancelToken* cancel) {
    auto res = renderMontage(root, images, options, maps, progress, cancel);
    analysis::writePng(file, res.image);
    return res;
}

} // namespace vitrine::core::analysis
