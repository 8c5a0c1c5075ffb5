#pragma once
// Training on several processes (DDP semantics) over PyTorch's c10d with the Gloo backend,
// configured like `torchrun`: MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK.
//
// Intended usage (vitrine-cli train does this):
//   if (auto d = train::distributedFromEnvironment()) {      // null when WORLD_SIZE is unset or 1
//       options.distributed = train::connectProcessGroup(*d); // blocks until every rank joined
//   }
//   Trainer(options).run(listener);
//
// The trainer calls the group after each backward pass and before the optimizer step, so
// every rank applies the same averaged gradient; rank 0 alone validates and writes
// checkpoints. A rank that exits (its sockets close) or stops answering for `timeout`
// makes every collective on the others throw RankLost, which ends their runs.
// Only ATen's Tensor here: the c10d and Gloo headers stay in process_group.cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/common/error.h"

namespace vitrine::core::train {

struct DistributedOptions {
    std::string masterAddress = "127.0.0.1"; ///< MASTER_ADDR: where rank 0 listens
    int masterPort = 29500;                  ///< MASTER_PORT
    int rank = 0;                            ///< RANK, 0 ... worldSize - 1
    int worldSize = 1;                       ///< WORLD_SIZE
    /// How long joining, and then each collective, may wait for the slowest rank (which
    /// includes rank 0's validation and checkpoint writes between steps).
    std::chrono::milliseconds timeout = std::chrono::minutes(5);
};

/// The torchrun variables, or nullopt when WORLD_SIZE is unset or 1. VITRINE_DIST_TIMEOUT
/// (seconds) overrides the timeout. Throws core::Error naming the variable that is
/// missing or malformed (e.g. RANK outside 0 ... WORLD_SIZE - 1).
std::optional<DistributedOptions> distributedFromEnvironment();

/// A collective failed: a rank exited, stopped answering, or the ranks disagree.
class RankLost : public Error {
public:
    using Error::Error;
};

/// What the trainer needs from a process group. Every rank must make the same calls in the
/// same order; each call blocks until all ranks made it (or throws RankLost).
class ProcessGroup {
public:
    virtual ~ProcessGroup() = default;
    virtual int rank() const = 0;
    virtual int worldSize() const = 0;
    /// In place: every rank's `values` become the element-wise sum over the ranks.
    /// `values`: [N] float32, contiguous, CPU, the same N on every rank.
    virtual void allreduceSum(at::Tensor& values) = 0;
    /// In place: as allreduceSum with the minimum and the maximum. [N] float64, CPU.
    virtual void allreduceMin(at::Tensor& values) = 0;
    virtual void allreduceMax(at::Tensor& values) = 0;
    /// In place: every rank's tensors become rank 0's (same shapes and dtypes on every rank).
    virtual void broadcastFromRank0(std::vector<at::Tensor>& tensors) = 0;
    virtual void barrier() = 0;
};

/// Joins the group (rank 0 hosts the TCP store at masterAddress:masterPort) over Gloo.
/// Throws core::Error when the other ranks do not all join within `timeout`.
std::shared_ptr<ProcessGroup> connectProcessGroup(const DistributedOptions& options);

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago (for local launches).
int freeLocalPort();

} // namespace vitrine::core::train
