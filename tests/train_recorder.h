#pragma once
// Shared by the training tests: a TrainerListener that records what a run reports.

#include <functional>
#include <string>
#include <vector>

#include "core/train/trainer.h"

namespace vitrine::testutil {

/// Records steps, epochs and warnings; `hook` runs on the trainer's thread after each step.
struct Recorder : core::train::TrainerListener {
    std::vector<core::train::StepStats> steps;
    std::vector<core::train::EpochStats> epochs;
    std::vector<std::string> warnings;
    std::function<void(const core::train::StepStats&)> hook;
    void onStep(const core::train::StepStats& s) override {
        steps.push_back(s);
        if (hook)
            hook(s);
    }
    void onEpoch(const core::train::EpochStats& e) override { epochs.push_back(e); }
    void onWarning(const std::string& w) override { warnings.push_back(w); }
};

} // namespace vitrine::testutil
