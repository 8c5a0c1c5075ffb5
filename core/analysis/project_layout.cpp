// The projection policy (projection.h's projectLayout): which settings a map of N points is
// computed with. Torch-free: it only chooses options for pca(), tsne() and umap().
#include <algorithm>

#include "core/analysis/projection.h"
#include "core/common/error.h"

namespace vitrine::core::analysis {

ProjectionMethod parseProjectionMethod(const std::string& name) {
    if (name == "pca")
        return ProjectionMethod::Pca;
    if (name == "tsne")
        return ProjectionMethod::Tsne;
    if (name == "umap")
        return ProjectionMethod::Umap;
    throw Error("unknown projection method '" + name + "' (use pca, tsne or umap)");
}

std::string toString(ProjectionMethod method) {
    switch (method) {
    case ProjectionMethod::Tsne: return "tsne";
    case ProjectionMethod::Umap: return "umap";
    case ProjectionMethod::Pca: break;
    }
    return "pca";
}

Matrix projectLayout(const MatrixView& view, const ProjectionRequest& request, const Matrix* previous,
                     const ProgressFn& progress, const CancelToken* cancel) {
    const bool continuing = previous && !previous->empty();
    if (continuing && (previous->rows != view.rows || previous->cols != 2))
        throw Error("the previous layout must be [" + std::to_string(view.rows) + ", 2], got [" +
                    std::to_string(previous->rows) + ", " + std::to_string(previous->cols) + "]");
    if (request.method == ProjectionMethod::Pca) {
        // Streams over the rows: a memory-mapped file is not copied.
        PcaOptions o;
        o.seed = request.seed;
        if (continuing)
            o.alignTo = previous;
        return pca(view, o, progress, cancel);
    }
    // t-SNE and UMAP read the view where it lies (a memory-mapped file is not copied).
    const MatrixView& data = view;
    Matrix layout;
    switch (request.method) {
    case ProjectionMethod::Pca: break;
    case ProjectionMethod::Tsne: {
        TsneOptions o;
        o.seed = request.seed;
        o.metric = request.metric;
        o.perplexity = std::min(request.perplexity, std::max(2.0, (double(data.rows) - 1) / 3.0));
        const int iterations = request.iterations > 0 ? request.iterations : TsneOptions{}.iterations;
        o.iterations = continuing ? std::max(150, iterations / 4) : iterations;
        if (continuing) {
            o.init = previous;
            o.earlyExaggerationIterations = 0;
        }
        layout = tsne(data, o, progress, cancel);
        break;
    }
    case ProjectionMethod::Umap: {
        UmapOptions o;
        o.seed = request.seed;
        o.metric = request.metric;
        o.neighbours = std::min<int>(request.neighbours, static_cast<int>(data.rows) - 1);
        o.minDist = request.minDist;
        o.epochs = request.iterations > 0 ? request.iterations : continuing ? 100 : 0;
        if (continuing)
            o.init = previous;
        layout = umap(data, o, progress, cancel);
        break;
    }
    }
    return continuing ? alignLayout(layout, *previous) : layout;
}

} // namespace vitrine::core::analysis
