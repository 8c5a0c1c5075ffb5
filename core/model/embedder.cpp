#include "core/model/embedder.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/common/precision_scope.h"
#include "core/image/preprocess.h"
#include "core/model/vit.h"

namespace vitrine::core::model {

namespace {

struct PreparedBatch {
    std::vector<std::size_t> indices;
    torch::Tensor images; // [b, 3, S, S] float32
    std::vector<Skipped> skipped;
    std::size_t inputCount = 0; // inputs this batch covered (embedded + skipped)
};

// Bounded single-producer/single-consumer queue with shutdown.
class BatchQueue {
public:
    explicit BatchQueue(std::size_t capacity) : m_capacity(std::max<std::size_t>(1, capacity)) {}

    bool push(PreparedBatch b) {
        std::unique_lock lock(m_mutex);
        m_notFull.wait(lock, [&] { return m_items.size() < m_capacity || m_stopped; });
        if (m_stopped)
            return false;
        m_items.push_back(std::move(b));
        m_notEmpty.notify_one();
        return true;
    }
    /// nullopt when the producer finished (or failed: see error()).
    std::optional<PreparedBatch> pop() {
        std::unique_lock lock(m_mutex);
        m_notEmpty.wait(lock, [&] { return !m_items.empty() || m_done || m_stopped; });
        if (m_items.empty())
            return std::nullopt;
        auto b = std::move(m_items.front());
        m_items.pop_front();
        m_notFull.notify_one();
        return b;
    }
    void finish(std::exception_ptr error = nullptr) {
        std::lock_guard lock(m_mutex);
        m_done = true;
        m_error = error;
        m_notEmpty.notify_all();
    }
    void stop() {
        std::lock_guard lock(m_mutex);
        m_stopped = true;
        m_notFull.notify_all();
        m_notEmpty.notify_all();
    }
    bool stopped() {
        std::lock_guard lock(m_mutex);
        return m_stopped;
    }
    std::exception_ptr error() {
        std::lock_guard lock(m_mutex);
        return m_error;
    }

private:
    std::size_t m_capacity;
    std::mutex m_mutex;
    std::condition_variable m_notFull, m_notEmpty;
    std::deque<PreparedBatch> m_items;
    bool m_done = false, m_stopped = false;
    std::exception_ptr m_error;
};

// The inputs, read in place (a data set's samples or a file list) rather than copied: with
// tens of thousands of images the copies would be the largest thing that grows with the run.
struct Inputs {
    std::size_t count = 0;
    std::function<const std::filesystem::path&(std::size_t)> file;
    std::function<std::string(std::size_t)> displayName;
    std::size_t size() const { return count; }
};

EmbedSummary run(VitImpl& model, const Inputs& files, const EmbedOptions& options, const EmbedBatchFn& onBatch,
                 const ProgressFn& progress, const CancelToken* cancel) {
    const auto started = std::chrono::steady_clock::now();
    const int size = options.imageSize > 0 ? options.imageSize : model.config().imageSize;
    if (size != model.config().imageSize)
        throw Error("embedding at image size " + std::to_string(size) + " needs a model loaded for that size (model: " +
                    std::to_string(model.config().imageSize) + "); load it with that image size");
    const auto batchSize = static_cast<std::size_t>(std::max(1, options.batchSize));
    const image::PreprocessOptions pre = model.config().inputOptions();
    const auto device = model.parameters().empty() ? torch::Device(torch::kCPU) : model.parameters().front().device();

    BatchQueue queue(static_cast<std::size_t>(std::max(1, options.queueDepth)));
    std::thread producer([&] {
        try {
            for (std::size_t begin = 0; begin < files.size(); begin += batchSize) {
                if (queue.stopped() || (cancel && cancel->cancelled()))
                    break;
                const auto end = std::min(files.size(), begin + batchSize);
                PreparedBatch b;
                b.inputCount = end - begin;
                std::vector<torch::Tensor> items;
                for (auto i = begin; i < end; ++i) {
                    try {
                        items.push_back(image::loadPreprocessed(files.file(i), pre));
                        b.indices.push_back(i);
                    } catch (const Error& e) {
                        b.skipped.push_back({files.displayName(i), e.problem().empty() ? e.what() : e.problem()});
                    } catch (const std::exception& e) {
                        b.skipped.push_back({files.displayName(i), e.what()});
                    }
                }
                if (!items.empty())
                    b.images = torch::stack(items);
                if (!queue.push(std::move(b)))
                    break;
            }
            queue.finish();
        } catch (...) {
            queue.finish(std::current_exception());
        }
    });

    EmbedSummary summary;
    std::size_t done = 0;
    try {
        // One autocast scope for the whole run so its cache keeps the bf16 weight copies
        // between batches instead of converting every weight again for every batch.
        torch::InferenceMode guard;
        Precision precision = device.is_cuda() ? resolvePrecision(options.precision)
                                               : resolveInferencePrecision(options.precision, model.config().dim);
        std::optional<AutocastScope> scope;
        scope.emplace(precision, device.is_cuda());
        summary.precision = precision;
        report(progress, 0, static_cast<long long>(files.size()), StageKind::Embedding);
        while (auto b = queue.pop()) {
            if (cancel)
                cancel->check();
            EmbeddedBatch out;
            torch::Tensor rows;
            if (b->images.defined()) {
                rows = model.embed(b->images.to(device)).to(torch::kCPU, torch::kFloat).contiguous();
                if (precision == Precision::Int8 && summary.int8MinCosine < 0) {
                    // int8 is checked on real data: the first batch's first images again in
                    // float32. Chosen automatically, it gives way to float32 for the run when
                    // its embeddings are not within cosine 0.99 (asked for, it stays and the
                    // figure is reported).
                    const auto n = std::min<std::int64_t>(8, b->images.size(0));
                    torch::Tensor ref;
                    {
                        const bool was = setInt8LinearsEnabled(false);
                        ref = model.embed(b->images.slice(0, 0, n).to(device)).to(torch::kCPU, torch::kFloat);
                        setInt8LinearsEnabled(was);
                    }
                    summary.int8MinCosine = torch::cosine_similarity(rows.slice(0, 0, n), ref, 1).min().item<double>();
                    if (summary.int8MinCosine < kInt8MinCosine && options.precision == Precision::Auto) {
                        precision = summary.precision = resolvePrecision(Precision::Auto);
                        scope.reset();
                        scope.emplace(precision, false);
                        rows = model.embed(b->images.to(device)).to(torch::kCPU, torch::kFloat).contiguous();
                    }
                }
                out.rows = rows.data_ptr<float>();
                out.dim = static_cast<int>(rows.size(1));
            } else {
                out.dim = model.config().outputDim();
            }
            out.indices = std::move(b->indices);
            out.skipped = std::move(b->skipped);
            summary.embedded += out.indices.size();
            summary.skipped.insert(summary.skipped.end(), out.skipped.begin(), out.skipped.end());
            if (onBatch)
                onBatch(out);
            done += b->inputCount;
            report(progress, static_cast<long long>(done), static_cast<long long>(files.size()), StageKind::Embedding);
        }
    } catch (...) {
        queue.stop();
        producer.join();
        throw;
    }
    producer.join();
    if (auto err = queue.error())
        std::rethrow_exception(err);
    if (cancel)
        cancel->check();
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return summary;
}

} // namespace

EmbedSummary embedFiles(VitImpl& model, const std::vector<std::filesystem::path>& files, const EmbedOptions& options,
                        const EmbedBatchFn& onBatch, const ProgressFn& progress, const CancelToken* cancel) {
    Inputs in;
    in.count = files.size();
    in.file = [&](std::size_t i) -> const std::filesystem::path& { return files[i]; };
    in.displayName = [&](std::size_t i) { return files[i].string(); };
    return run(model, in, options, onBatch, progress, cancel);
}

EmbedSummary embedDataset(VitImpl& model, const data::Dataset& dataset, const EmbedOptions& options,
                          const EmbedBatchFn& onBatch, const ProgressFn& progress, const CancelToken* cancel) {
    Inputs in;
    in.count = dataset.samples.size();
    in.file = [&](std::size_t i) -> const std::filesystem::path& { return dataset.samples[i].path; };
    in.displayName = [&](std::size_t i) { return dataset.samples[i].relativePath; };
    return run(model, in, options, onBatch, progress, cancel);
}

} // namespace vitrine::core::model
