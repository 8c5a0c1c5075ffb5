// vitrine-cli convert: any model Vitrine opens (a bundled name, a preset, timm/DINO, Hugging
// Face or torchvision safetensors, a training checkpoint) -> one Vitrine checkpoint with its
// config and preprocessing in the metadata, optimizer state dropped, optionally in float16.
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "core/model/checkpoint.h"

namespace vitrine::cli {

void addConvertCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string model, out, name, description, attribution, licence;
        int imageSize = 0;
        bool half = false;
        PreprocessFlags pre;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("convert", "Write a model as a Vitrine checkpoint (config and preprocessing "
                                              "in its metadata; training state dropped)");
    cmd->add_option("--model", opts->model, "Bundled model name, preset or .safetensors file")->required();
    cmd->add_option("--out", opts->out, "Checkpoint to write (.safetensors)")->required();
    cmd->add_flag("--half", opts->half, "Store the weights as float16 (half the size; read back as float32)");
    cmd->add_option("--image-size", opts->imageSize, "Resize the positional embeddings for this input size");
    cmd->add_option("--name", opts->name, "A short name people see (Model menu, status bar)");
    cmd->add_option("--description", opts->description, "A line saying what the model is");
    cmd->add_option("--attribution", opts->attribution, "Who made the weights (kept in the metadata)");
    cmd->add_option("--licence", opts->licence, "The weights' licence (kept in the metadata)");
    addPreprocessFlags(cmd, opts->pre);
    cmd->callback([opts, &ctx] {
        core::model::LoadOptions lo;
        lo.imageSize = opts->imageSize;
        lo.preprocess = opts->pre.toJson();
        auto loaded = core::model::loadModel(opts->model, lo);
        for (const auto& w : loaded.warnings)
            std::cerr << "warning: " << w << '\n';
        nlohmann::json meta = nlohmann::json::object();
        // Keep what a person wants to know about where the weights came from and how they did.
        for (const char* key :
             {"training", "validation", "class_names", "label_level", "name", "description", "attribution", "licence"})
            if (loaded.metadata.contains(key))
                meta[key] = loaded.metadata[key];
        if (!opts->name.empty())
            meta["name"] = opts->name;
        if (!opts->description.empty())
            meta["description"] = opts->description;
        if (!opts->attribution.empty())
            meta["attribution"] = opts->attribution;
        if (!opts->licence.empty())
            meta["licence"] = opts->licence;
        meta["converted_from"] = loaded.source + " (" + loaded.layout + " layout)";
        core::model::saveCheckpoint(opts->out, *loaded.model, meta, {}, opts->half);
        std::cout << "wrote " << opts->out << " (" << (opts->half ? "float16" : "float32") << ", "
                  << loaded.model->config().inputOptions().describe() << ")\n";
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli
