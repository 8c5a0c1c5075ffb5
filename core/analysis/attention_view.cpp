#include "core/analysis/attention_view.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/common/error.h"

namespace vitrine::core::analysis {
namespace {

int layerOf(const AttentionStack& stack, const AttentionView& view) {
    return view.layer < 0 ? stack.layers - 1 : view.layer;
}

HeadChoice rolloutHeads(const AttentionView& view) {
    return view.heads.head >= 0 ? HeadChoice::fused(HeadFusion::Mean) : view.heads;
}

// Lines about 1/300 of the picture, so they show on large photos and do not swamp small ones.
int lineWidth(const cv::Mat& picture) { return std::max(1, std::min(picture.cols, picture.rows) / 300); }

const cv::Scalar kGridColour{255, 255, 255};
const cv::Scalar kPatchColour{255, 64, 64};

// The map over one picture: heatmap or mask, then the querying patch outlined.
cv::Mat drawOne(const cv::Mat& canvas, const cv::Mat& map, const AttentionView& view, int grid) {
    cv::Mat picture = view.maskShare > 0 ? renderMask(canvas, massMask(map, view.maskShare).mask)
                                         : renderHeatmap(canvas, map, view.style);
    if (view.patch >= 0)
        highlightPatch(picture, grid, view.patch, kPatchColour, 2 * lineWidth(picture));
    return picture;
}

std::string number(double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
}

} // namespace

void validateAttentionView(const AttentionStack& stack, const AttentionView& view) {
    stack.validate();
    if (view.layer < -1 || view.layer >= stack.layers)
        throw Error("layer " + std::to_string(view.layer) + ": the model has layers 0.." +
                    std::to_string(stack.layers - 1));
    if (view.heads.head >= stack.heads)
        throw Error("head " + std::to_string(view.heads.head) + ": the model has heads 0.." +
                    std::to_string(stack.heads - 1));
    if (view.patch < -1 || view.patch >= stack.numPatches())
        throw Error("patch " + std::to_string(view.patch) + ": the model has patches 0.." +
                    std::to_string(stack.numPatches() - 1));
    if (view.allHeads && view.rollout)
        throw Error("every head of a layer cannot be shown as a rollout, which fuses the heads of every layer");
    if (view.maskShare < 0 || view.maskShare > 1 || view.discardRatio < 0 || view.discardRatio >= 1)
        throw Error("the mask share must be in [0, 1] and the discard ratio in [0, 1)");
}

cv::Mat attentionViewMap(const AttentionStack& stack, const AttentionView& view) {
    validateAttentionView(stack, view);
    const int layer = layerOf(stack, view);
    const int query = view.patch + 1; // token 0 is the class token
    if (view.rollout) {
        RolloutOptions options;
        options.fusion = rolloutHeads(view).fusion;
        options.discardRatio = view.discardRatio;
        options.lastLayer = layer;
        return rolloutMap(stack, options, query);
    }
    const HeadChoice heads = view.allHeads && view.heads.head >= 0 ? HeadChoice::fused(HeadFusion::Mean) : view.heads;
    return attentionMap(stack, layer, heads, query);
}

cv::Mat renderAttentionView(const AttentionStack& stack, const cv::Mat& canvas, const AttentionView& view,
                            cv::Mat* map) {
    const cv::Mat viewMap = attentionViewMap(stack, view);
    if (map)
        *map = viewMap;
    const int grid = stack.gridSize();
    if (!view.allHeads) {
        cv::Mat picture = drawOne(canvas, viewMap, view, grid);
        if (view.drawGrid)
            drawPatchGrid(picture, grid, kGridColour, lineWidth(picture));
        return picture;
    }
    // Tiles 224..320 px on their longer side: small models run at 64-96 px, where labels and
    // the grid would not be readable, and a sheet of a dozen full-size photos helps nobody.
    cv::Mat tileCanvas = canvas;
    const int longer = std::max(canvas.cols, canvas.rows);
    if (longer < 224)
        cv::resize(canvas, tileCanvas, {}, 224.0 / longer, 224.0 / longer, cv::INTER_CUBIC);
    else if (longer > 320)
        cv::resize(canvas, tileCanvas, {}, 320.0 / longer, 320.0 / longer, cv::INTER_AREA);
    const int layer = layerOf(stack, view);
    std::vector<cv::Mat> tiles;
    std::vector<std::string> labels;
    const auto maps = headAttentionMaps(stack, layer, view.patch + 1);
    for (int h = 0; h < stack.heads; ++h) {
        tiles.push_back(drawOne(tileCanvas, maps[static_cast<std::size_t>(h)], view, grid));
        labels.push_back("L" + std::to_string(layer) + " head " + std::to_string(h));
    }
    tiles.push_back(drawOne(tileCanvas, viewMap, view, grid));
    labels.push_back("L" + std::to_string(layer) + " " +
                     toString(view.heads.head >= 0 ? HeadChoice::fused(HeadFusion::Mean) : view.heads));
    if (view.drawGrid)
        for (auto& tile : tiles)
            drawPatchGrid(tile, grid, kGridColour, 1);
    return composeTiles(tiles, labels);
}

std::string describeAttentionView(const AttentionStack& stack, const AttentionView& view) {
    const int layer = layerOf(stack, view);
    std::string what;
    if (view.allHeads) {
        what = "every head of layer " + std::to_string(layer);
    } else if (view.rollout) {
        what = "rollout to layer " + std::to_string(layer) + " (" + toString(rolloutHeads(view)) + " fusion";
        if (view.discardRatio > 0)
            what += ", discard " + number(view.discardRatio);
        what += ")";
    } else {
        what = "layer " + std::to_string(layer) + ", " + toString(view.heads);
    }
    what += view.patch >= 0 ? ", patch " + std::to_string(view.patch) : ", class token";
    if (view.maskShare > 0 && !view.allHeads)
        what += ", mask " + std::to_string(massMask(attentionViewMap(stack, view), view.maskShare).keptCount) +
                " patches";
    return what;
}

} // namespace vitrine::core::analysis
