#include "core/data/import_rules.h"

#include "core/image/image_probe.h"

namespace fs = std::filesystem;

namespace vitrine::core::data {

Import importFolders(const std::vector<fs::path>& folders, const ScanOptions& options, const ProgressFn& progress,
                     const CancelToken* cancel) {
    Import out;
    for (const auto& folder : folders) {
        Dataset ds = scanFolder(folder, options, progress, cancel);
        const std::string folderName = ds.root.filename().string();
        for (auto& s : ds.samples) {
            if (s.labels.empty())
                s.labels = {folderName};
            s.relativePath = folderName + "/" + s.relativePath;
            out.samples.push_back(std::move(s));
        }
        out.skipped.insert(out.skipped.end(), ds.skipped.begin(), ds.skipped.end());
    }
    return out;
}

Import checkDroppedFiles(const std::vector<fs::path>& files) {
    Import out;
    // Header check only: cheap enough for the GUI thread on a handful of dropped files.
    ScanOptions quick;
    quick.verifyImages = false;
    for (const auto& f : files) {
        const std::string name = f.filename().string();
        std::string reason;
        std::error_code ec;
        if (!fs::is_regular_file(f, ec)) {
            reason = "not a file";
        } else if (!image::hasImageExtension(name)) {
            // The text after the last dot, as a person reads the extension (".bashrc" -> "bashrc").
            const auto dot = name.rfind('.');
            reason = "not an image file (extension '." +
                     (dot == std::string::npos ? std::string() : name.substr(dot + 1)) + "')";
        } else {
            reason = checkImageFile(f, quick);
        }
        if (reason.empty()) {
            Sample s;
            s.path = f;
            out.samples.push_back(std::move(s));
        } else {
            out.skipped.push_back({f.string(), reason});
        }
    }
    return out;
}

std::vector<std::string> labelsForClass(const Dataset& ds, int level, const std::string& name) {
    for (const auto& s : ds.samples) {
        if (Dataset::labelAt(s, level) != name || s.labels.empty())
            continue;
        const std::size_t depth = level < 0 ? s.labels.size()
                                            : std::min<std::size_t>(s.labels.size(), std::size_t(level) + 1);
        return {s.labels.begin(), s.labels.begin() + static_cast<std::ptrdiff_t>(depth)};
    }
    return {name};
}

std::vector<Sample> samplesForClass(const std::vector<fs::path>& files, const std::vector<std::string>& labels) {
    std::string prefix;
    for (const auto& l : labels)
        prefix += l + "/";
    std::vector<Sample> samples;
    for (const auto& f : files) {
        Sample s;
        s.path = fs::absolute(f).lexically_normal();
        s.labels = labels;
        s.relativePath = prefix + s.path.filename().string();
        samples.push_back(std::move(s));
    }
    return samples;
}

} // namespace vitrine::core::data
