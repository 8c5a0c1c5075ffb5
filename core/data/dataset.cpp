#include "core/data/dataset.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "core/common/error.h"
#include "core/image/decode.h"
#include "core/image/image_probe.h"

namespace vitrine::core::data {
namespace fs = std::filesystem;

namespace {
bool isDocumentation(const std::string& name) {
    std::string stem = fs::path(name).stem().string();
    std::transform(stem.begin(), stem.end(), stem.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    return stem == "README" || stem == "CREDITS" || stem == "LICENSE" || stem == "LICENCE" || stem == "COPYING";
}
} // namespace

int Dataset::maxLevel() const {
    int level = -1;
    for (const auto& s : samples)
        level = std::max(level, static_cast<int>(s.labels.size()) - 1);
    return samples.empty() ? -1 : std::max(level, 0);
}

const std::string& Dataset::labelRef(const Sample& s, int level) {
    static const std::string unlabelled = "(unlabelled)";
    if (s.labels.empty())
        return unlabelled;
    if (level < 0 || level >= static_cast<int>(s.labels.size()))
        return s.labels.back();
    return s.labels[static_cast<std::size_t>(level)];
}

std::string Dataset::labelAt(const Sample& s, int level) { return labelRef(s, level); }

namespace {

// Each sample's label numbered in first-seen order, and the distinct labels in that order.
std::vector<int> firstSeenIds(const std::vector<Sample>& samples, int level, std::vector<std::string_view>& names) {
    std::unordered_map<std::string_view, int> idOf;
    std::vector<int> ids;
    ids.reserve(samples.size());
    for (const auto& s : samples) {
        const auto [it, added] = idOf.try_emplace(Dataset::labelRef(s, level), static_cast<int>(idOf.size()));
        if (added)
            names.push_back(it->first);
        ids.push_back(it->second);
    }
    return ids;
}

} // namespace

std::vector<std::string> Dataset::classNames(int level) const {
    std::vector<std::string_view> names;
    firstSeenIds(samples, level, names);
    std::sort(names.begin(), names.end());
    return {names.begin(), names.end()};
}

std::vector<int> Dataset::classIds(int level) const {
    std::vector<std::string_view> names;
    std::vector<int> ids = firstSeenIds(samples, level, names);
    // Renumber by the sorted names (classNames' order).
    std::vector<int> order(names.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = static_cast<int>(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return names[std::size_t(a)] < names[std::size_t(b)]; });
    std::vector<int> rank(names.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        rank[std::size_t(order[i])] = static_cast<int>(i);
    for (int& id : ids)
        id = rank[std::size_t(id)];
    return ids;
}

std::size_t Dataset::merge(const Dataset& other) {
    std::set<fs::path> present;
    for (const auto& s : samples)
        present.insert(s.path);
    std::size_t added = 0;
    for (const auto& s : other.samples) {
        if (present.insert(s.path).second) {
            samples.push_back(s);
            ++added;
        }
    }
    skipped.insert(skipped.end(), other.skipped.begin(), other.skipped.end());
    std::stable_sort(samples.begin(), samples.end(),
                     [](const Sample& a, const Sample& b) { return a.relativePath < b.relativePath; });
    return added;
}

std::string checkImageFile(const fs::path& file, const ScanOptions& options) {
    if (options.verifyImages) {
        // The full check is the decoder itself, so a scan and an embedding run agree on
        // every file. JPEGs decode with DCT scaling: every coefficient is still read.
        image::DecodeOptions d;
        d.maxPixels = options.maxPixels;
        d.minShortSide = 32;
        try {
            (void)image::decodeRgb(file, d);
        } catch (const Error& e) {
            return e.problem().empty() ? e.what() : e.problem();
        }
        return {};
    }
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return "cannot be opened (permission denied or removed)";
    std::string bytes(1 << 16, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    const bool whole = bytes.size() < (1u << 16) || in.peek() == std::char_traits<char>::eof();
    std::string why;
    auto probe = image::probeImage(bytes, whole, &why);
    if (!probe)
        return why;
    if (!probe->sizeKnown)
        return {}; // the size is checked when the file is decoded
    if (std::string problem = image::sizeProblem(probe->width, probe->height, options.maxPixels); !problem.empty())
        return problem;
    if (!probe->complete)
        return std::string("truncated ") + image::formatName(probe->format) +
               " (the file ends before the image data does)";
    return {};
}

Dataset scanFolder(const fs::path& rootIn, const ScanOptions& options, const ProgressFn& progress,
                   const CancelToken* cancel) {
    std::error_code ec;
    if (!fs::exists(rootIn, ec))
        throw Error(rootIn, "does not exist");
    if (!fs::is_directory(rootIn, ec))
        throw Error(rootIn, "is not a folder; choose the folder that holds one sub-folder per class");
    Dataset ds;
    ds.root = fs::canonical(rootIn, ec);
    if (ec)
        throw Error(rootIn, "cannot be opened: " + ec.message());

    std::vector<fs::path> candidates;
    std::set<fs::path> visitedDirs{ds.root};
    // Depth-first walk following directory symlinks, with loop detection by canonical path.
    std::vector<fs::path> stack{ds.root};
    while (!stack.empty()) {
        if (cancel)
            cancel->check();
        fs::path dir = stack.back();
        stack.pop_back();
        fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
        if (ec) {
            ds.skipped.push_back({dir.string(), "folder cannot be read: " + ec.message()});
            continue;
        }
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            if (ec) {
                ds.skipped.push_back({dir.string(), "folder listing failed: " + ec.message()});
                break;
            }
            const fs::path& p = it->path();
            const std::string name = p.filename().string();
            if (!name.empty() && name[0] == '.')
                continue; // hidden files and folders (.DS_Store, .git, ...)
            std::error_code sec;
            auto status = fs::status(p, sec);
            if (sec) {
                auto lst = fs::symlink_status(p, sec);
                ds.skipped.push_back({p.string(), fs::is_symlink(lst)
                                                      ? "broken symbolic link (target missing or a loop)"
                                                      : "cannot be read"});
                continue;
            }
            if (fs::is_directory(status)) {
                fs::path canon = fs::canonical(p, sec);
                if (sec) {
                    ds.skipped.push_back({p.string(), "folder cannot be resolved: " + sec.message()});
                    continue;
                }
                if (!visitedDirs.insert(canon).second) {
                    ds.skipped.push_back({p.string(), "symbolic link loop (folder already scanned); skipped"});
                    continue;
                }
                stack.push_back(p);
            } else if (fs::is_regular_file(status)) {
                candidates.push_back(p);
            } else {
                ds.skipped.push_back({p.string(), "not a regular file"});
            }
        }
    }
    std::sort(candidates.begin(), candidates.end());

    const auto total = static_cast<long long>(candidates.size());
    long long done = 0;
    for (const auto& p : candidates) {
        if (cancel && (done % 16 == 0))
            cancel->check();
        ++done;
        const std::string name = p.filename().string();
        if (isDocumentation(name))
            continue; // a data set's own README/CREDITS/LICENSE is not a problem
        if (!image::hasImageExtension(name)) {
            ds.skipped.push_back({p.string(), "not an image file (extension '" + p.extension().string() + "')"});
            continue;
        }
        std::string reason = checkImageFile(p, options);
        if (!reason.empty()) {
            ds.skipped.push_back({p.string(), reason});
        } else {
            Sample s;
            s.path = p;
            fs::path rel = p.lexically_relative(ds.root);
            s.relativePath = rel.generic_string();
            for (auto part = rel.begin(); part != rel.end(); ++part)
                if (std::next(part) != rel.end())
                    s.labels.push_back(part->string());
            ds.samples.push_back(std::move(s));
        }
        if (done % 32 == 0 || done == total)
            report(progress, done, total, StageKind::Scanning);
    }
    std::sort(ds.samples.begin(), ds.samples.end(),
              [](const Sample& a, const Sample& b) { return a.relativePath < b.relativePath; });
    return ds;
}

bool isValidation(const std::string& relativePath, double validationFraction) {
    // FNV-1a 64: stable across platforms and runs (std::hash is not).
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : relativePath) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return static_cast<double>(h % 1'000'000) / 1'000'000.0 < validationFraction;
}

} // namespace vitrine::core::data
