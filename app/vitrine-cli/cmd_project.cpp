// vitrine-cli project --embeddings FILE --method pca|tsne|umap --out FILE.npy|.csv:
// 2-D map coordinates, one row per embedding.
#include <charconv>
#include <iostream>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/progress.h"
#include "core/analysis/projection.h"
#include "core/common/error.h"
#include "core/io/atomic_file.h"
#include "core/io/csv.h"
#include "core/io/embedding_set.h"
#include "core/io/npy.h"

namespace vitrine::cli {

core::analysis::Metric parseMetric(const std::string& name);

void addProjectCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string embeddings, method = "pca", out, metric = "euclidean", init;
        std::uint64_t seed = 0;
        double perplexity = 30.0, minDist = 0.1;
        int iterations = 0, neighbours = 15;
        bool quiet = false;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("project", "2-D projection (PCA, t-SNE, UMAP) of an embeddings file");
    cmd->add_option("--embeddings", opts->embeddings, "Embeddings file (.npy/.safetensors/.csv)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--method", opts->method, "pca, tsne or umap")->check(CLI::IsMember({"pca", "tsne", "umap"}));
    cmd->add_option("--out", opts->out, "Output .npy ([N, 2] float32) or .csv (path,label,x,y)")->required();
    cmd->add_option("--seed", opts->seed, "Random seed (same seed, same layout)");
    cmd->add_option("--perplexity", opts->perplexity, "t-SNE perplexity")->check(CLI::PositiveNumber);
    cmd->add_option("--iterations", opts->iterations, "t-SNE iterations (default 1000) / UMAP epochs (default auto)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--neighbors,--neighbours", opts->neighbours, "UMAP n_neighbors")->check(CLI::Range(2, 1000));
    cmd->add_option("--min-dist", opts->minDist, "UMAP min_dist")->check(CLI::Range(0.0, 10.0));
    cmd->add_option("--metric", opts->metric, "Input distance for t-SNE/UMAP: euclidean or cosine")
        ->check(CLI::IsMember({"cosine", "euclidean"}));
    cmd->add_option("--init", opts->init,
                    "Continue a previous layout (.npy [N, 2]) as the map does: PCA aligned to it; "
                    "t-SNE (a quarter of the iterations) and UMAP (100 epochs) start from it and are aligned to it")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--quiet", opts->quiet, "No progress on stderr");
    cmd->callback([opts, &ctx] {
        const std::filesystem::path out = opts->out;
        const auto ext = out.extension().string();
        if (ext != ".npy" && ext != ".csv")
            throw UsageError("--out " + out.string() + ": unsupported output type; use .npy or .csv");
        // Memory-mapped when it is a float32 .npy: no projection copies the rows.
        auto set = core::io::openEmbeddingSet(opts->embeddings);
        core::Matrix init;
        if (!opts->init.empty()) {
            init = core::io::readNpyMatrix(opts->init);
            if (init.rows != set.embeddings.rows || init.cols != 2)
                throw core::Error(opts->init,
                                  "initial layout must be [" + std::to_string(set.embeddings.rows) + ", 2]");
        }
        const core::Matrix* initPtr = init.empty() ? nullptr : &init;
        ProgressPrinter printer(false);
        const core::ProgressFn progress = opts->quiet ? core::ProgressFn() : printer.fn();
        // The map panel's policy (core/analysis/projection.h): perplexity and neighbours capped
        // for small sets, --init continued the way the map continues a layout.
        core::analysis::ProjectionRequest request;
        request.method = core::analysis::parseProjectionMethod(opts->method);
        request.seed = opts->seed;
        request.perplexity = opts->perplexity;
        request.iterations = opts->iterations;
        request.neighbours = opts->neighbours;
        request.minDist = opts->minDist;
        request.metric = parseMetric(opts->metric);
        const core::Matrix y = core::analysis::projectLayout(set.embeddings, request, initPtr, progress,
                                                             &ctx.cancelToken());
        printer.breakLine();
        if (ext == ".npy") {
            core::io::writeNpyMatrix(out, y);
        } else {
            std::string text = "path,label,x,y\r\n";
            char buf[32];
            for (std::int64_t i = 0; i < y.rows; ++i) {
                text += core::io::csvField(set.rows.value(i, "path")) + "," +
                        core::io::csvField(set.rows.value(i, "label"));
                for (int c = 0; c < 2; ++c) {
                    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, y(i, c));
                    text += ',';
                    text.append(buf, p);
                }
                text += "\r\n";
            }
            core::io::writeFileAtomically(out, text);
        }
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli
