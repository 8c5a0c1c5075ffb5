// vitrine-cli export --embeddings FILE --format npy|csv|safetensors|projector --out PATH
// [--coords FILE.npy] [--images-root DIR] [--no-sprite]
#include <filesystem>
#include <iostream>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/progress.h"
#include "core/common/error.h"
#include "core/io/embedding_export.h"
#include "core/io/npy.h"

namespace vitrine::cli {

void addExportCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string embeddings, format, out, coords, imagesRoot;
        bool noSprite = false;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("export", "Export embeddings with their paths and labels");
    cmd->add_option("--embeddings", opts->embeddings, "Embeddings file (.npy/.safetensors/.csv with its .rows.tsv)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--format", opts->format, "npy, csv, safetensors or projector")
        ->required()
        ->check(CLI::IsMember({"npy", "csv", "safetensors", "projector"}));
    cmd->add_option("--out", opts->out, "Output file (projector: output folder)")->required();
    cmd->add_option("--coords", opts->coords, "2-D coordinates to include (.npy [N, 2], e.g. from `project`)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--images-root", opts->imagesRoot, "Folder that relative image paths are under (projector sprite)");
    cmd->add_flag("--no-sprite", opts->noSprite, "Projector bundle without sprite.png");
    cmd->callback([opts, &ctx] {
        // A float32 .npy is memory-mapped and streamed to the output (10^6 x 384 is 1.5 GB);
        // other inputs are read, with the coordinates a .safetensors or .csv file may carry.
        core::io::MappedEmbeddingSet mapped;
        core::Matrix coords;
        if (std::filesystem::path(opts->embeddings).extension() == ".npy") {
            mapped = core::io::openEmbeddingSet(opts->embeddings);
        } else {
            auto set = core::io::loadEmbeddingSet(opts->embeddings);
            mapped.embeddings = core::MatrixView::owning(std::move(set.embeddings));
            mapped.rows = std::move(set.rows);
            coords = std::move(set.coords);
        }
        if (!opts->coords.empty()) {
            coords = core::io::readNpyMatrix(opts->coords);
            if (coords.rows != mapped.embeddings.rows || coords.cols != 2)
                throw core::Error(opts->coords, "coordinates must be [" + std::to_string(mapped.embeddings.rows) +
                                                    ", 2], got [" + std::to_string(coords.rows) + ", " +
                                                    std::to_string(coords.cols) + "]");
        }
        core::io::ExportOptions o;
        o.format = core::io::parseExportFormat(opts->format);
        o.imagesRoot = opts->imagesRoot;
        o.sprite = !opts->noSprite;
        ProgressPrinter printer(false); // the projector's sprite decodes every image
        auto result = core::io::exportEmbeddings({mapped.embeddings, mapped.rows, coords}, opts->out, o, printer.fn(),
                                                 &ctx.cancelToken());
        printer.breakLine();
        for (const auto& f : result.files)
            std::cout << f.string() << '\n';
        if (result.missingImages > 0)
            std::cerr << "warning: " << result.missingImages
                      << " images could not be read; their sprite tiles are grey (see --images-root)\n";
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli
