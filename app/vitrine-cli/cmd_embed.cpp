// vitrine-cli embed --model M --data DIR --out FILE: one embedding row per image, streamed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "app/vitrine-cli/progress.h"
#include "core/common/error.h"
#include "core/data/dataset.h"
#include "core/data/shard.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_stream.h"
#include "core/io/row_table.h"
#include "core/model/checkpoint.h"
#include "core/model/embedder.h"

namespace vitrine::cli {

void addEmbedCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string model = "default";
        std::string data, out;
        int batch = 32;
        int imageSize = 0;
        int heads = 0;
        std::string device = "auto";
        std::string precision = "auto";
        int labelLevel = -1;
        bool json = false;
        std::string shard;
        PreprocessFlags pre;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("embed",
                                   "Embed every image of a folder with a ViT (.npy/.csv/.safetensors + rows.tsv)");
    cmd->add_option("--model", opts->model,
                    "Checkpoint (.safetensors: Vitrine, timm/DINO, Hugging Face or torchvision layout), a preset "
                    "(vit-micro, vit-tiny-16, vit-small-16, vit-base-16; random weights) or 'default'")
        ->capture_default_str();
    cmd->add_option("--data", opts->data, "Folder of images (one sub-folder per class)")->required();
    cmd->add_option("--out", opts->out, "Output file: .npy (float32 [rows, E]), .csv or .safetensors")->required();
    addInferenceFlags(cmd, opts->batch, opts->precision);
    cmd->add_option("--image-size", opts->imageSize,
                    "Input side S (default: the model's; positional embeddings are interpolated)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--heads", opts->heads, "Attention heads for foreign checkpoints (default dim/64)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--device", opts->device, "cpu, cuda or auto")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
        ->capture_default_str();
    cmd->add_option("--label-level", opts->labelLevel, "Label level written to rows.tsv (0 = top folder, -1 = deepest)")
        ->capture_default_str();
    cmd->add_flag("--json", opts->json, "JSON-lines progress and summary on stdout");
    cmd->add_option("--shard", opts->shard,
                    "Embed only shard I of N (I/N, I from 0; files chosen by a hash of their path): run N of these "
                    "(a Slurm array, a Kubernetes indexed Job) and join them with `vitrine-cli merge`");
    addPreprocessFlags(cmd, opts->pre);
    cmd->callback([opts, &ctx] {
        const std::filesystem::path out(opts->out);
        if (!core::io::EmbeddingStreamWriter::supports(out))
            throw UsageError("--out " + out.string() + ": unsupported output type '" + out.extension().string() +
                             "' (use .npy, .csv or .safetensors)");

        core::model::LoadOptions lo;
        lo.imageSize = opts->imageSize;
        lo.heads = opts->heads;
        lo.device = opts->device;
        lo.preprocess = opts->pre.toJson();
        auto loaded = core::model::loadModel(opts->model, lo);
        for (const auto& w : loaded.warnings)
            std::cerr << "warning: " << w << '\n';
        const auto& cfg = loaded.model->config();

        core::data::ScanOptions so;
        so.verifyImages = false; // the embedder decodes every file anyway and reports failures
        auto ds = core::data::scanFolder(opts->data, so);
        for (const auto& s : ds.skipped)
            std::cerr << "skipped " << s.path << ": " << s.reason << '\n';
        // A shard: this process's share of the files, recorded beside the output for merge.
        const auto shard = opts->shard.empty() ? core::data::ShardSpec{} : core::data::parseShard(opts->shard);
        const std::string fileList = core::data::fileListFingerprint(ds);
        const std::size_t allFiles = ds.samples.size();
        if (!shard.whole())
            std::erase_if(ds.samples,
                          [&](const core::data::Sample& s) { return !core::data::inShard(s.relativePath, shard); });

        core::model::EmbedOptions eo;
        eo.batchSize = opts->batch;
        // Auto stays Auto for the embedder, which may move from int8 to float32 after checking
        // the first batch; the file records what ran (setMetadata below).
        eo.precision = core::parsePrecision(opts->precision);
        const core::Precision planned = core::resolveInferencePrecision(eo.precision, cfg.dim);
        const int dim = cfg.outputDim();
        // Rows go to disk as they come off the model (the embedder itself streams through a
        // bounded queue), so memory does not grow with the number of images. The writer is
        // opened first: an unwritable target fails now, not after the whole run.
        core::io::EmbeddingStreamWriter writer(
            out, dim, ds.samples.size(),
            {{"model", loaded.source}, {"config", cfg.toJson().dump()}, {"precision", core::precisionName(planned)}});
        ProgressPrinter printer(opts->json);
        auto onBatch = [&](const core::model::EmbeddedBatch& b) {
            if (!b.skipped.empty())
                printer.breakLine();
            for (const auto& s : b.skipped) {
                std::cerr << "skipped " << s.path << ": " << s.reason << '\n';
                if (opts->json)
                    std::cout << nlohmann::json{{"event", "skipped"}, {"path", s.path}, {"reason", s.reason}}.dump()
                              << std::endl;
            }
            for (std::size_t r = 0; r < b.indices.size(); ++r) {
                const auto& s = ds.samples[b.indices[r]];
                writer.append(b.rows + r * static_cast<std::size_t>(b.dim),
                              {s.relativePath,
                               s.labels.empty() ? std::string() : core::data::Dataset::labelAt(s, opts->labelLevel)});
            }
        };
        core::model::EmbedSummary summary;
        try { // Ctrl-C: stop, remove the temporaries, keep the earlier output
            summary = core::model::embedDataset(*loaded.model, ds, eo, onBatch, printer.fn(), &ctx.cancelToken());
        } catch (const core::Cancelled&) {
            printer.breakLine();
            std::fprintf(stderr, "cancelled after %llu images; nothing written (%s is as it was)\n",
                         static_cast<unsigned long long>(writer.rows()), out.string().c_str());
            if (opts->json)
                std::cout << nlohmann::json{{"event", "cancelled"}, {"embedded", writer.rows()}}.dump() << std::endl;
            ctx.exitCode = ExitCode::Cancelled;
            return;
        }
        const auto n = static_cast<std::int64_t>(writer.rows());
        writer.setMetadata("precision", core::precisionName(summary.precision));
        if (summary.int8MinCosine >= 0) {
            std::fprintf(stderr, "int8: least cosine to float32 on the first batch %.4f%s\n", summary.int8MinCosine,
                         summary.precision != core::Precision::Int8 ? "; below 0.99, so float32 was used"
                         : summary.int8MinCosine < core::model::kInt8MinCosine
                             ? "; below 0.99 (asked for int8: kept; use --precision fp32 for exact embeddings)"
                             : "");
        }
        if (n > 0 || !shard.whole())
            writer.commit(); // else the writer's destructor removes its temporaries: nothing is written
        if (!shard.whole()) {
            // What merge checks: the same model, preprocessing, precision, label level and file list.
            core::io::writeFileAtomically(
                core::data::shardSidecarPath(out),
                nlohmann::json{{"shard", shard.index},
                               {"of", shard.count},
                               {"model", std::filesystem::path(loaded.source).filename().string()},
                               {"config", cfg.toJson()},
                               {"precision", core::precisionName(summary.precision)},
                               {"label_level", opts->labelLevel},
                               {"file_list", fileList},
                               {"files", allFiles},
                               {"rows", n},
                               {"skipped", summary.skipped.size()}}
                        .dump(2) +
                    "\n");
        }
        const auto skipped = summary.skipped.size() + ds.skipped.size();
        const double rate = summary.seconds > 0 ? summary.embedded / summary.seconds : 0.0;
        if (opts->json) {
            std::cout << nlohmann::json{{"event", "done"},
                                        {"embedded", summary.embedded},
                                        {"skipped", skipped},
                                        {"dim", dim},
                                        {"seconds", summary.seconds},
                                        {"images_per_second", rate},
                                        {"out", n > 0 ? out.string() : ""},
                                        {"rows", n > 0 ? core::io::rowsSidecarPath(out).string() : ""},
                                        {"model", loaded.source},
                                        {"layout", loaded.layout},
                                        {"weights_loaded", loaded.weightsLoaded},
                                        {"precision", core::precisionName(summary.precision)},
                                        {"int8_min_cosine", summary.int8MinCosine >= 0
                                                                ? nlohmann::json(summary.int8MinCosine)
                                                                : nlohmann::json(nullptr)}}
                             .dump()
                      << std::endl;
        }
        std::fprintf(stderr, "embedded %zu images (%d dims) in %.1f s, %.1f img/s; %zu skipped%s\n", summary.embedded,
                     dim, summary.seconds, rate, skipped,
                     n > 0 ? (" -> " + out.string()).c_str() : "; nothing written");
        ctx.exitCode = summary.embedded > 0 || (!shard.whole() && summary.skipped.empty()) ? ExitCode::Done
                                                                                           : ExitCode::Failed;
    });
}

} // namespace vitrine::cli
