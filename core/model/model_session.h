#pragma once
// A loaded model that follows what the user asked for: loaded again only when the model
// (preset, bundled name or file) or the image size changes, and able to take the weights of
// a training run in progress. The window keeps one per worker (embedding, inspection,
// attention statistics); each is used by one thread at a time.

#include <cstdint>
#include <map>
#include <string>

#include "core/model/checkpoint.h"

namespace vitrine::core::model {

class ModelSession {
public:
    /// Loads `spec` (as loadModel) at `imageSize` (0 = the model's own) unless that is what is
    /// loaded; `withHead` asks for a projection head (identity-initialised where the file has
    /// none), as the trainer gives head-less models. The model is in eval() mode.
    void ensure(const std::string& spec, int imageSize, bool withHead = false);
    /// Copies training weights (by timm name, CPU float32) into the model's parameters of the
    /// same shape; a head in `weights` makes the model take one first.
    void applyWeights(const std::map<std::string, torch::Tensor>& weights, std::int64_t step);
    /// What the model is, for a status bar: a bundled model by its name, a file by its name,
    /// architecture and size; "· random weights" where none were loaded.
    std::string describe() const;

    bool loadedAs(const std::string& spec, int imageSize) const {
        return m_loaded.model && m_spec == spec && m_imageSize == imageSize;
    }
    const LoadedModel& loaded() const { return m_loaded; }
    LoadedModel& loaded() { return m_loaded; }
    const std::string& spec() const { return m_spec; }
    /// The training step whose weights are in the model; -1 = as loaded.
    std::int64_t weightsStep() const { return m_weightsStep; }

private:
    LoadedModel m_loaded;
    std::string m_spec;
    int m_imageSize = -1;
    std::int64_t m_weightsStep = -1;
};

} // namespace vitrine::core::model
