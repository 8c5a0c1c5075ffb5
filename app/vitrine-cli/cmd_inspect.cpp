// vitrine-cli attention / patches: render what the Inspector shows to a PNG.
//
// Output size: by default the PNG has the original photo's size. The model only sees the
// centre crop of the photo (shorter side resized to S, then S x S), so the map is drawn
// over that region at full resolution and the strips outside it are dimmed. `--view model`
// writes the S x S model input instead. `--grid` writes a contact sheet of every head, and
// `patches --compare` writes the two model inputs side by side (2S x S).
#include <iostream>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "app/vitrine-cli/commands.h"
#include "core/analysis/attention_maps.h"
#include "core/analysis/attention_view.h"
#include "core/analysis/heatmap.h"
#include "core/analysis/inspection.h"
#include "core/analysis/patch_tokens.h"
#include "core/common/error.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"

namespace vitrine::cli {
namespace {

namespace analysis = core::analysis;

struct CommonOpts {
    std::string model = "default";
    std::string image;
    std::string out;
    std::string view = "original";
    std::string device = "cpu";
    int imageSize = 0;
    std::string interpolation; // "" = the command's default
    bool drawGrid = false;
    double opacity = -1; // < 0 = the command's default
    std::string colormap = "viridis";
};

void addCommonOptions(CLI::App* cmd, CommonOpts& o) {
    cmd->add_option("--model", o.model,
                    "Checkpoint (.safetensors) or preset name (vit-small-16, ...); "
                    "default: the bundled default model")
        ->capture_default_str();
    cmd->add_option("--image", o.image, "Image file to inspect")->required();
    cmd->add_option("--out", o.out, "PNG file to write")->required();
    cmd->add_option("--view", o.view,
                    "original: the photo's own size, the part the model never saw dimmed; "
                    "model: the S x S model input")
        ->check(CLI::IsMember({"original", "model"}))
        ->capture_default_str();
    cmd->add_option("--image-size", o.imageSize,
                    "Run the model at this input size (positional embeddings "
                    "interpolated); 0 = the model's own");
    cmd->add_option("--device", o.device, "cpu, cuda or auto")->capture_default_str();
    cmd->add_option("--colormap", o.colormap, "viridis, inferno, magma, plasma, jet, turbo or gray")
        ->capture_default_str();
    cmd->add_option("--overlay-opacity", o.opacity, "Opacity of the map over the photo, 0..1")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--interpolation", o.interpolation, "nearest (patch blocks) or bilinear")
        ->check(CLI::IsMember({"nearest", "bilinear"}));
    cmd->add_flag("--draw-grid", o.drawGrid, "Draw the patch grid over the result");
}

struct Prepared {
    core::model::LoadedModel loaded;
    cv::Mat original;
    analysis::InspectionResult result;
    cv::Mat canvas; ///< what maps are drawn over: the crop of the original, or the model input
};

Prepared prepare(const CommonOpts& o) {
    Prepared p;
    // The image first: a bad file should fail fast, before a model is built.
    p.original = core::image::decodeRgb(o.image);
    core::model::LoadOptions load;
    load.imageSize = o.imageSize;
    load.device = o.device;
    p.loaded = core::model::loadModel(o.model, load);
    for (const auto& w : p.loaded.warnings)
        std::cerr << "warning: " << w << '\n';
    // Decoded again the way every model path decodes (JPEG DCT scaling included), so the maps
    // are computed on exactly the pixels `embed` sees.
    p.original = core::image::decodeForModel(o.image, p.loaded.model->config().inputOptions());
    p.result = analysis::inspectImage(*p.loaded.model, p.original);
    p.canvas = o.view == "model" ? p.result.input.clone() : p.original(p.result.crop).clone();
    return p;
}

analysis::Interpolation interpolationOf(const CommonOpts& o, analysis::Interpolation fallback) {
    if (o.interpolation.empty())
        return fallback;
    return o.interpolation == "nearest" ? analysis::Interpolation::Nearest : analysis::Interpolation::Bilinear;
}

// Grid lines about 1/300 of the picture, so they show on large photos and do not swamp small ones.
int lineWidth(const cv::Mat& m) { return std::max(1, std::min(m.cols, m.rows) / 300); }

cv::Mat finish(const Prepared& p, const CommonOpts& o, cv::Mat rendered) {
    if (o.drawGrid)
        analysis::drawPatchGrid(rendered, p.result.gridSize(), {255, 255, 255}, lineWidth(rendered));
    if (o.view == "model")
        return rendered;
    return analysis::placeInOriginal(p.original, p.result.crop, rendered);
}

void write(const CommonOpts& o, const cv::Mat& picture, const std::string& what) {
    analysis::writePng(o.out, picture);
    std::cout << "wrote " << o.out << " (" << picture.cols << "x" << picture.rows << "): " << what << '\n';
}

std::string modelLabel(const Prepared& p) {
    std::ostringstream s;
    s << p.loaded.source << " (" << p.result.config.name << ", " << p.result.layers() << " layers x "
      << p.result.heads() << " heads, " << p.result.gridSize() << "x" << p.result.gridSize() << " patches"
      << (p.loaded.weightsLoaded ? "" : ", random weights") << "), inspected in "
      << static_cast<int>(p.result.seconds * 1000) << " ms";
    return s.str();
}

} // namespace

void addAttentionCommand(CLI::App& app, CliContext& ctx) {
    struct Opts : CommonOpts {
        std::string layer = "last";
        std::string head = "mean";
        bool rollout = false;
        double discardRatio = 0;
        double mask = 0;
        bool grid = false;
        int patch = -1;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("attention", "Render a ViT's attention over an image to a PNG");
    addCommonOptions(cmd, *opts);
    cmd->add_option("--layer", opts->layer, "Layer index (0-based) or 'last'")->capture_default_str();
    cmd->add_option("--head", opts->head, "Head index, or mean / max / min over all heads")->capture_default_str();
    cmd->add_flag("--rollout", opts->rollout, "Attention rollout (Abnar & Zuidema 2020) up to --layer");
    cmd->add_option("--discard-ratio", opts->discardRatio,
                    "With --rollout: share of each layer's lowest attentions dropped (vit-explain)")
        ->check(CLI::Range(0.0, 0.999));
    cmd->add_option("--mask", opts->mask, "Keep only the patches holding this share of attention (DINO), e.g. 0.6")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_flag("--grid", opts->grid, "Every head of the layer (and their mean) in one contact sheet");
    cmd->add_option("--patch", opts->patch, "Show where this patch (row-major index) looks instead of the class token");
    cmd->callback([opts, &ctx] {
        const Opts& o = *opts;
        // Command-line rules first (before a model is loaded); what the request means and how
        // it is drawn is core's one rule (core/analysis/attention_view.h), the Inspector's too.
        if (o.discardRatio > 0 && !o.rollout)
            throw UsageError("--discard-ratio only applies to --rollout");
        if (o.grid && o.rollout)
            throw UsageError("--grid shows one layer's heads; it cannot be combined with --rollout");
        int layer = -1;
        if (o.layer != "last") {
            try {
                std::size_t used = 0;
                layer = std::stoi(o.layer, &used);
                if (used != o.layer.size() || layer < 0)
                    throw std::invalid_argument(o.layer);
            } catch (const std::exception&) {
                throw UsageError("--layer: expected a layer index or 'last', got '" + o.layer + "'");
            }
        }
        auto p = prepare(o);
        const auto& stack = p.result.attention;
        analysis::AttentionView view;
        view.layer = layer;
        view.rollout = o.rollout;
        view.discardRatio = o.discardRatio;
        view.patch = o.patch;
        view.maskShare = o.mask;
        view.allHeads = o.grid;
        view.drawGrid = o.drawGrid;
        view.style.colormap = analysis::parseColormap(o.colormap);
        view.style.opacity = o.opacity < 0 ? 0.6 : o.opacity;
        view.style.interpolation = interpolationOf(o, analysis::Interpolation::Bilinear);
        try {
            view.heads = analysis::parseHeadChoice(o.head, stack.heads);
            if (view.layer >= stack.layers)
                throw core::Error("--layer " + o.layer + ": the model has layers 0.." +
                                  std::to_string(stack.layers - 1));
            if (o.patch >= stack.numPatches() || o.patch < -1)
                throw core::Error("--patch " + std::to_string(o.patch) + ": the model has patches 0.." +
                                  std::to_string(stack.numPatches() - 1));
            if (o.rollout && view.heads.head >= 0)
                throw core::Error("--rollout fuses all heads of every layer; use --head mean, max or min");
            analysis::validateAttentionView(stack, view);
        } catch (const core::Error& e) {
            throw UsageError(e.what()); // a request this model cannot show: the command line asked for it
        }
        const cv::Mat picture = analysis::renderAttentionView(stack, p.canvas, view);
        const std::string what = analysis::describeAttentionView(stack, view) + "; " + modelLabel(p);
        // A sheet of tiles is written as it is; one map keeps the original photo's size.
        write(o, o.grid || o.view == "model" ? picture : analysis::placeInOriginal(p.original, p.result.crop, picture),
              what);
        ctx.exitCode = ExitCode::Done;
    });
}

void addPatchesCommand(CLI::App& app, CliContext& ctx) {
    struct Opts : CommonOpts {
        bool pca = false;
        bool norms = false;
        bool removeBackground = false;
        double threshold = 0.5;
        std::string compare;
        int patch = -1;
        int matches = 20;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("patches", "Render patch-token views (PCA colours or token norms) to a PNG");
    addCommonOptions(cmd, *opts);
    auto* pca = cmd->add_flag("--pca", opts->pca, "First three principal components as RGB (default)");
    auto* norms = cmd->add_flag("--norms", opts->norms, "Token L2 norms as a heatmap");
    pca->excludes(norms);
    cmd->add_flag("--remove-background", opts->removeBackground,
                  "With --pca: drop patches whose first component is below --threshold");
    cmd->add_option("--threshold", opts->threshold, "Background threshold on the first component scaled to 0..1")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_option("--compare", opts->compare,
                    "Second image: show how its patches match the first's (cosine of patch tokens)");
    cmd->add_option("--patch", opts->patch,
                    "With --compare: similarity of this patch of --image to every patch "
                    "of the second image; without it, the best mutual matches");
    cmd->add_option("--matches", opts->matches, "With --compare: how many mutual best matches to draw")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->callback([opts, &ctx] {
        const Opts& o = *opts;
        if (o.norms && o.removeBackground)
            throw UsageError("--remove-background applies to --pca, not --norms");
        if (o.patch >= 0 && o.compare.empty())
            throw UsageError("--patch needs --compare (the image whose patches it is compared with)");
        if (!o.compare.empty() && (o.norms || o.pca || o.removeBackground))
            throw UsageError("--compare draws patch similarities; it cannot be combined with --pca or --norms");
        auto p = prepare(o);
        const int grid = p.result.gridSize();
        if (!o.compare.empty()) {
            const auto other = analysis::inspectImage(
                *p.loaded.model, core::image::decodeForModel(o.compare, p.loaded.model->config().inputOptions()));
            const int patches = p.result.attention.numPatches();
            if (o.patch >= patches)
                throw UsageError("--patch " + std::to_string(o.patch) + ": the model has patches 0.." +
                                 std::to_string(patches - 1));
            cv::Mat picture;
            std::string what;
            if (o.patch >= 0) {
                cv::Mat left = p.result.input.clone();
                analysis::highlightPatch(left, grid, o.patch);
                analysis::HeatmapStyle style;
                style.colormap = analysis::parseColormap(o.colormap);
                style.opacity = o.opacity < 0 ? 0.6 : o.opacity;
                style.interpolation = interpolationOf(o, analysis::Interpolation::Nearest);
                const cv::Mat sim = analysis::patchSimilarityMap(p.result.patchTokens, o.patch, other.patchTokens,
                                                                 other.gridSize());
                cv::Mat right = analysis::renderHeatmap(other.input, sim, style);
                double lo = 0, hi = 0;
                cv::Point best;
                cv::minMaxLoc(sim, &lo, &hi, nullptr, &best);
                analysis::highlightPatch(right, other.gridSize(), best.y * other.gridSize() + best.x, {255, 255, 255});
                cv::hconcat(left, right, picture);
                what = "cosine of patch " + std::to_string(o.patch) + " to every patch of " + o.compare + " (" +
                       std::to_string(lo) + ".." + std::to_string(hi) + ", best patch " +
                       std::to_string(best.y * other.gridSize() + best.x) + ")";
            } else {
                const auto matches = analysis::bestPatchMatches(p.result.patchTokens, other.patchTokens,
                                                                analysis::MatchMode::MutualNearest, o.matches);
                picture = analysis::renderPatchMatches(p.result.input, grid, other.input, other.gridSize(), matches,
                                                       analysis::parseColormap(o.colormap));
                what = std::to_string(matches.size()) + " mutual best patch matches";
                if (!matches.empty())
                    what += " (cosine " + std::to_string(matches.back().similarity) + ".." +
                            std::to_string(matches.front().similarity) + ")";
            }
            if (o.drawGrid) {
                cv::Mat left = picture.colRange(0, p.result.input.cols);
                cv::Mat right = picture.colRange(p.result.input.cols, picture.cols);
                analysis::drawPatchGrid(left, grid);
                analysis::drawPatchGrid(right, other.gridSize());
            }
            write(o, picture, what + "; " + modelLabel(p));
            ctx.exitCode = ExitCode::Done;
            return;
        }
        if (o.norms) {
            analysis::HeatmapStyle style;
            style.colormap = analysis::parseColormap(o.colormap);
            style.opacity = o.opacity < 0 ? 0.6 : o.opacity;
            style.interpolation = interpolationOf(o, analysis::Interpolation::Nearest);
            const cv::Mat norms = analysis::tokenNorms(p.result.patchTokens, grid);
            double lo = 0, hi = 0;
            cv::minMaxLoc(norms, &lo, &hi);
            write(o, finish(p, o, analysis::renderHeatmap(p.canvas, norms, style)),
                  "patch-token norms " + std::to_string(lo) + ".." + std::to_string(hi) + "; " + modelLabel(p));
        } else {
            analysis::PcaRgbOptions po;
            po.removeBackground = o.removeBackground;
            po.threshold = o.threshold;
            const auto colours = analysis::pcaRgb(p.result.patchTokens, grid, po);
            const double opacity = o.opacity < 0 ? 1.0 : o.opacity;
            const cv::Mat picture = analysis::renderPatchColors(p.canvas, colours.rgb, opacity,
                                                                interpolationOf(o, analysis::Interpolation::Nearest));
            std::ostringstream what;
            what << "PCA of patch tokens (explained variance";
            for (float v : colours.explainedVariance)
                what << ' ' << static_cast<int>(v * 1000) / 10.0 << '%';
            what << ")";
            if (o.removeBackground)
                what << ", foreground " << cv::countNonZero(colours.foreground) << " of " << grid * grid << " patches";
            write(o, finish(p, o, picture), what.str() + "; " + modelLabel(p));
        }
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli
