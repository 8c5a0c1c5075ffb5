// vitrine-cli eval: retrieval metrics (P@1, R-Precision, MAP@R, kNN accuracy) of a model,
// or of the raw-pixel baseline, on a data set's validation split.
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/progress.h"
#include "core/common/precision.h"
#include "core/train/evaluate.h"

namespace vitrine::cli {

void addEvalCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        core::train::EvalOptions e;
        std::string model = "default", data, split = "val", baseline, precision = "auto";
        bool json = false;
        PreprocessFlags pre;
    };
    auto opts = std::make_shared<Opts>();
    auto& e = opts->e;
    auto* cmd = app.add_subcommand("eval", "Retrieval metrics of a model on a folder-per-class data set");
    cmd->add_option("--model", opts->model, "Checkpoint (.safetensors), preset, or 'default'")->capture_default_str();
    cmd->add_option("--data", opts->data, "Folder with one sub-folder per class")->required();
    cmd->add_option("--label-level", e.labelLevel, "Label level for nested folders (0 = top, -1 = deepest)")
        ->capture_default_str();
    cmd->add_option("--split", opts->split, "val (the trainer's 20% validation split), train or all")
        ->capture_default_str()
        ->check(CLI::IsMember({"val", "train", "all"}));
    cmd->add_option("--baseline", opts->baseline, "Score a baseline instead of a model: 'pixels'")
        ->check(CLI::IsMember({"pixels"}));
    cmd->add_option("--pixel-size", e.pixelSide, "Side of the pixel baseline's downscaled image")
        ->capture_default_str();
    cmd->add_option("--image-size", e.imageSize, "Run the model at this image size (0 = its own)");
    cmd->add_option("--pool", e.pool, "Presets: head pooling, to score an untrained model like a trained one")
        ->check(CLI::IsMember({"cls", "mean"}));
    cmd->add_option("--seed", e.seed, "Presets: seed of the random weights (as train --seed)");
    cmd->add_option("--precision", opts->precision,
                    "auto (bf16 where native and faster, else fp32), fp32, bf16 or int8 (int8 Linear layers)")
        ->check(CLI::IsMember({"auto", "fp32", "bf16", "int8"}))
        ->capture_default_str();
    cmd->add_option("-k,--knn-k", e.knnK, "k for kNN accuracy")->capture_default_str();
    cmd->add_flag("--json", opts->json, "Machine-readable output");
    addPreprocessFlags(cmd, opts->pre);
    cmd->callback([opts, &ctx] {
        auto& e = opts->e;
        e.split = core::train::parseSplit(opts->split);
        e.precision = core::parsePrecision(opts->precision);
        e.preprocess = opts->pre.toJson();
        ProgressPrinter printer(false); // --json prints one object: progress only as a bar on a terminal
        auto& token = ctx.cancelToken();
        auto rep = opts->baseline == "pixels"
                       ? core::train::evaluatePixelBaseline(opts->data, e, printer.fn(), &token)
                       : core::train::evaluateModel(opts->model, opts->data, e, printer.fn(), &token);
        printer.breakLine();
        const auto& m = rep.metrics;
        if (opts->json) {
            auto j = core::train::retrievalMetricsJson(m);
            j.update({{"model", rep.source},
                      {"split", opts->split},
                      {"label_level", e.labelLevel},
                      {"images", rep.images},
                      {"classes", rep.classes},
                      {"seconds", rep.seconds},
                      {"precision",
                       core::precisionName(e.precision == core::Precision::Int8 ? e.precision
                                                                                : core::resolvePrecision(e.precision))},
                      {"warnings", rep.warnings}});
            std::cout << j.dump(2) << '\n';
        } else {
            for (const auto& w : rep.warnings)
                std::cerr << "warning: " << w << '\n';
            std::cout << rep.source << " on " << opts->data << " (" << opts->split << ", label level " << e.labelLevel
                      << "): " << rep.images << " images, " << rep.classes << " classes\n"
                      << std::fixed << std::setprecision(4) << "  Precision@1   " << m.precisionAt1 << '\n'
                      << "  R-Precision   " << m.rPrecision << '\n'
                      << "  MAP@R         " << m.mapAtR << '\n'
                      << "  kNN acc (k=" << m.knnK << ") " << m.knnAccuracy << '\n';
        }
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli
