// vitrine-cli select --data DIR --paths-from LIST.txt --csv F | --copy-to DIR | --montage F.png:
// a selection of images turned into a result (core/analysis/selection_export.h).
#include <fstream>
#include <iostream>
#include <set>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/embed_rows.h"
#include "app/vitrine-cli/progress.h"
#include "core/analysis/selection_export.h"
#include "core/common/error.h"
#include "core/data/dataset.h"

namespace vitrine::cli {

namespace {

namespace fs = std::filesystem;

/// One path per line (blank lines skipped, CR-LF accepted), relative to `root` or absolute.
std::vector<core::analysis::SelectedImage> readPathList(std::istream& in, const std::string& listName,
                                                        const fs::path& root, int labelLevel) {
    std::vector<core::analysis::SelectedImage> out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        fs::path p(line);
        std::string rel = line;
        if (p.is_absolute()) {
            const auto r = p.lexically_normal().lexically_relative(fs::absolute(root).lexically_normal());
            if (!r.empty() && *r.begin() != "..")
                rel = r.generic_string();
        }
        const fs::path file = fs::path(rel).is_absolute() ? fs::path(rel) : root / rel;
        std::error_code ec;
        if (!fs::is_regular_file(file, ec))
            throw core::Error(listName + " line " + std::to_string(n) + ": " + line + ": no such file" +
                              (fs::path(rel).is_absolute() ? std::string() : " in " + root.string()));
        const std::string label = fs::path(rel).is_absolute() ? fs::path(rel).parent_path().filename().string()
                                                              : labelFromPath(rel, labelLevel);
        out.push_back({rel, label});
    }
    return out;
}

} // namespace

void addSelectCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string data, pathsFrom, label, csv, copyTo, montage, caption = "name";
        int labelLevel = -1, columns = 0, cell = 160;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("select", "Turn a selection of images into a CSV list, an ImageFolder copy or a "
                                             "montage PNG");
    cmd->add_option("--data", opts->data, "The data set folder the paths are relative to")->required();
    auto* from = cmd->add_option("--paths-from", opts->pathsFrom,
                                 "Text file with one image path per line (relative to --data), or - for stdin");
    auto* label = cmd->add_option("--label", opts->label, "Select every image of this class instead");
    from->excludes(label);
    cmd->add_option("--label-level", opts->labelLevel, "Label level for nested folders (0 = top, -1 = deepest)")
        ->capture_default_str();
    cmd->add_option("--csv", opts->csv, "Write the list as CSV (path,label)");
    cmd->add_option("--copy-to", opts->copyTo,
                    "Copy the images into this folder as an ImageFolder tree (label/file); nothing is overwritten");
    cmd->add_option("--montage", opts->montage, "Write a grid of thumbnails as PNG");
    cmd->add_option("--columns", opts->columns, "Montage cells per row (0 = about square)")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    cmd->add_option("--cell", opts->cell, "Montage cell side in pixels")
        ->check(CLI::Range(16, 4096))
        ->capture_default_str();
    cmd->add_option("--caption", opts->caption, "Montage caption under each image")
        ->check(CLI::IsMember({"none", "name", "label", "both"}))
        ->capture_default_str();
    cmd->callback([opts, &ctx] {
        const fs::path root(opts->data);
        if (!fs::is_directory(root))
            throw core::Error(root, "not a folder");
        if (opts->pathsFrom.empty() && opts->label.empty())
            throw UsageError("select: say which images, with --paths-from LIST.txt (or - for stdin) or --label L");
        if (opts->csv.empty() && opts->copyTo.empty() && opts->montage.empty())
            throw UsageError("select: say what to make, with --csv F.csv, --copy-to DIR and/or --montage F.png");
        core::CancelToken& token = ctx.cancelToken();
        ProgressPrinter printer(false);

        std::vector<core::analysis::SelectedImage> images;
        if (opts->pathsFrom == "-") {
            images = readPathList(std::cin, "stdin", root, opts->labelLevel);
        } else if (!opts->pathsFrom.empty()) {
            std::ifstream in(opts->pathsFrom);
            if (!in)
                throw core::Error(opts->pathsFrom, "cannot read the list of paths");
            images = readPathList(in, opts->pathsFrom, root, opts->labelLevel);
        } else {
            core::data::ScanOptions so;
            so.verifyImages = false;
            const auto ds = core::data::scanFolder(root, so, printer.fn(), &token);
            for (const auto& s : ds.samples)
                if (!s.labels.empty() && core::data::Dataset::labelAt(s, opts->labelLevel) == opts->label)
                    images.push_back({s.relativePath, opts->label});
            if (images.empty()) {
                std::string classes;
                for (const auto& c : ds.classNames(opts->labelLevel))
                    classes += (classes.empty() ? "" : ", ") + c;
                throw core::Error(root, "no images labelled \"" + opts->label + "\" (classes: " + classes + ")");
            }
        }
        if (images.empty())
            throw core::Error(opts->pathsFrom == "-" ? "stdin" : opts->pathsFrom, "lists no images");

        if (!opts->csv.empty()) {
            core::analysis::writeSelectionCsv(opts->csv, images);
            std::cout << "wrote " << opts->csv << " (" << images.size() << " images)\n";
        }
        if (!opts->copyTo.empty()) {
            const auto copied = core::analysis::copyAsImageFolder(root, images, opts->copyTo, printer.fn(), &token);
            std::cout << "copied " << copied.size() << " images to " << opts->copyTo << '\n';
            for (const auto& c : copied)
                if (c.destination.filename() != c.source.filename())
                    std::cout << "  " << c.source.filename().string() << " -> " << c.destination.string()
                              << " (the name was taken)\n";
        }
        if (!opts->montage.empty()) {
            core::analysis::MontageOptions mo;
            mo.columns = opts->columns;
            mo.cell = opts->cell;
            using C = core::analysis::MontageOptions::Caption;
            mo.caption = opts->caption == "none"    ? C::None
                         : opts->caption == "label" ? C::Label
                         : opts->caption == "both"  ? C::Both
                                                    : C::FileName;
            const auto m = core::analysis::writeMontage(opts->montage, root, images, mo, {}, printer.fn(), &token);
            for (const auto& w : m.warnings)
                std::cerr << "warning: " << w << " (a placeholder in the montage)\n";
            std::cout << "wrote " << opts->montage << " (" << m.image.cols << " x " << m.image.rows << ", "
                      << images.size() << " images)\n";
        }
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli
