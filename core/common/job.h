#pragma once
// The one job contract: every long core job takes a progress callback and a cancellation
// token, and the GUI workers (ui/job_runner.h), the trainer and the CLI drive them alike.
//
// Intended usage:
//   CancelToken token;                       // shared with whoever may stop the job
//   ProgressFn progress = [&](long long done, long long total, const Stage& stage) {
//       if (stage.kind == StageKind::Embedding) bar.set(done, total);
//   };
//   try { auto set = embedFolder(..., progress, &token); }
//   catch (const Cancelled&) { /* stopped; outputs are as they were */ }
//
// Which thread calls back: the thread that called the job (the worker's), never a job's
// internal helper threads and never the thread that calls cancel(). A callback that
// touches a GUI must hand the values over (JobRunner queues them to its GUI thread).
//
// How often: at most once per unit of work the job polls the token for (a batch of images,
// a block of rows, an iteration, 32 scanned files, a download every ~100 ms), plus a first
// report at 0 where the job knows its total and a last one at total. Nothing is rate-limited
// here; a consumer that draws (JobRunner: ~20 Hz) throttles for itself, and always shows a
// report whose done == total.
//
// Cancellation: cancel() may be called from any thread, also from inside the callback; the
// job polls the token between units of work and throws core::Cancelled at the next poll, so
// a cancel takes effect within one unit (one batch, one iteration, ...). Outputs that were
// being written are left as they were before the job. The trainer is the one job that
// returns instead of throwing: a stopped run is a result (TrainResult::cancelled) with a
// checkpoint of the steps it completed (core/train/trainer.h).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/error.h"

namespace vitrine::core {

/// Thread-safe cancel flag shared between a worker and whoever controls it.
class CancelToken {
public:
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    bool cancelled() const { return m_cancelled.load(std::memory_order_relaxed); }
    void reset() { m_cancelled.store(false, std::memory_order_relaxed); }
    /// Throws Cancelled when cancel() was called.
    void check() const {
        if (cancelled())
            throw Cancelled();
    }

private:
    std::atomic<bool> m_cancelled{false};
};

/// What a job is doing, so consumers can switch on it instead of parsing text. The comment
/// on each value gives the unit of done/total; total 0 means "not known yet".
enum class StageKind {
    Scanning,       ///< listing and checking a folder's files (data::scanFolder); files
    LoadingImages,  ///< decoding and resizing images (trainer preload, evaluation); images
    Embedding,      ///< running the model over images (embedder, evaluation); images
    Downloading,    ///< fetching a model file; bytes (total 0 until the server says)
    IndexTraining,  ///< training a FAISS IVF index's centroids; rows (0 of n, then done)
    Indexing,       ///< adding rows to a neighbour index; rows
    Neighbours,     ///< k-nearest-neighbour queries; rows (t-SNE/UMAP: 0 of 1, then 1 of 1)
    Pca,            ///< principal components; blocks of rows
    Optimising,     ///< a t-SNE or UMAP layout; iterations (t-SNE) or epochs (UMAP)
    AttentionStats, ///< per-image attention statistics; images
    Thumbnails,     ///< drawing the projector sprite's thumbnails; images
    Copying,        ///< copying images into an ImageFolder tree; images
    Drawing,        ///< drawing a montage's tiles; tiles
    Hashing,        ///< the audit's pixel hashes of near-duplicate candidates; images
    Scoring,        ///< the audit's mislabel scores; rows
    Reading,        ///< opening an embeddings file (GUI); steps of 3
    Training,       ///< optimizer steps of a training run; steps (global, across resume)
    Paused,         ///< a paused training run; steps done of all steps
    Validating,     ///< embedding the validation split; images
    Checkpoint,     ///< writing a training checkpoint; steps (the step it holds, of all)
};

/// A short lower-case name for people ("scanning", "writing checkpoint").
constexpr std::string_view stageName(StageKind kind) {
    switch (kind) {
    case StageKind::Scanning: return "scanning";
    case StageKind::LoadingImages: return "loading images";
    case StageKind::Embedding: return "embedding";
    case StageKind::Downloading: return "downloading";
    case StageKind::IndexTraining: return "training the index";
    case StageKind::Indexing: return "indexing";
    case StageKind::Neighbours: return "neighbours";
    case StageKind::Pca: return "pca";
    case StageKind::Optimising: return "optimising the layout";
    case StageKind::AttentionStats: return "attention statistics";
    case StageKind::Thumbnails: return "thumbnails";
    case StageKind::Copying: return "copying";
    case StageKind::Drawing: return "drawing";
    case StageKind::Hashing: return "hashing pixels";
    case StageKind::Scoring: return "scoring";
    case StageKind::Reading: return "reading";
    case StageKind::Training: return "training";
    case StageKind::Paused: return "paused";
    case StageKind::Validating: return "validating";
    case StageKind::Checkpoint: return "writing checkpoint";
    }
    return "working";
}

/// One progress report's stage: the kind to switch on and an optional human detail
/// ("A" for the first of two neighbour graphs, "naming the rows"); never parsed.
struct Stage {
    StageKind kind = StageKind::Scanning;
    std::string text;
    /// stageName(kind), with the detail after it when there is one: "neighbours (A)".
    std::string label() const {
        std::string out(stageName(kind));
        if (!text.empty())
            out += " (" + text + ")";
        return out;
    }
};

/// done of total in the unit of stage.kind (see StageKind); total 0 = unknown.
using ProgressFn = std::function<void(long long done, long long total, const Stage& stage)>;

inline void report(const ProgressFn& fn, long long done, long long total, StageKind kind, std::string text = {}) {
    if (fn)
        fn(done, total, Stage{kind, std::move(text)});
}

} // namespace vitrine::core
