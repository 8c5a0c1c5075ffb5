#include "core/train/triplet.h"

#include "core/common/error.h"
#include "core/common/precision_scope.h"

namespace vitrine::core::train {

namespace F = torch::nn::functional;

Miner parseMiner(const std::string& name) {
    if (name == "batch-all")
        return Miner::BatchAll;
    if (name == "batch-hard")
        return Miner::BatchHard;
    if (name == "semi-hard")
        return Miner::SemiHard;
    if (name == "random")
        return Miner::Random;
    throw Error("unknown miner '" + name + "'; use batch-all, batch-hard, semi-hard or random");
}

std::string minerName(Miner miner) {
    switch (miner) {
    case Miner::BatchAll: return "batch-all";
    case Miner::BatchHard: return "batch-hard";
    case Miner::SemiHard: return "semi-hard";
    case Miner::Random: return "random";
    }
    return "?";
}

Distance parseDistance(const std::string& name) {
    if (name == "euclidean")
        return Distance::Euclidean;
    if (name == "cosine")
        return Distance::Cosine;
    throw Error("unknown distance '" + name + "'; use euclidean or cosine");
}

std::string distanceName(Distance distance) { return distance == Distance::Cosine ? "cosine" : "euclidean"; }

namespace {

double maskedMean(const torch::Tensor& values, const torch::Tensor& mask) {
    auto n = mask.sum().item<std::int64_t>();
    return n > 0 ? values.masked_select(mask).sum().item<double>() / double(n) : 0.0;
}

} // namespace

torch::Tensor pairwiseDistances(const torch::Tensor& embeddings, Distance distance) {
    TORCH_CHECK(embeddings.dim() == 2, "embeddings must be [B, E], got ", embeddings.sizes());
    // Float32 even when the model runs under bf16 autocast: distances between unit vectors
    // differ in the 3rd digit, which bf16 cannot resolve.
    AutocastOffScope noAutocast;
    auto e = F::normalize(embeddings.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1).eps(1e-12));
    auto gram = torch::matmul(e, e.t());
    if (distance == Distance::Cosine)
        return 1.0 - gram;
    auto sq = (e * e).sum(1);
    auto d2 = sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * gram;
    // clamp_min has zero gradient below the bound, so d = 0 pairs contribute nothing
    // instead of the infinite derivative of sqrt at 0.
    return d2.clamp_min(1e-12).sqrt();
}

TripletLossResult tripletLoss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                              const TripletLossOptions& options, std::optional<at::Generator> generator) {
    TORCH_CHECK(embeddings.dim() == 2, "embeddings must be [B, E], got ", embeddings.sizes());
    TORCH_CHECK(labels.dim() == 1 && labels.size(0) == embeddings.size(0),
                "labels must be [B] matching embeddings, got ", labels.sizes());
    // Float32 even when the model runs under bf16 autocast: distances between unit vectors
    // differ in the 3rd digit, which bf16 cannot resolve.
    AutocastOffScope noAutocast;
    const auto b = embeddings.size(0);
    const double margin = options.margin;
    auto d = pairwiseDistances(embeddings, options.distance);
    auto dd = d.detach();
    auto lab = labels.to(torch::kLong).to(d.device());
    auto same = lab.unsqueeze(1) == lab.unsqueeze(0);
    auto eye = torch::eye(b, torch::TensorOptions().dtype(torch::kBool).device(d.device()));
    auto pos = same & ~eye;
    auto neg = ~same;

    TripletLossResult r;
    r.meanPositive = maskedMean(dd, pos);
    r.meanNegative = maskedMean(dd, neg);
    r.meanPairwise = maskedMean(dd, ~eye);

    // x = d(a,p) - d(a,n) for each selected triplet; `valid` marks which entries count.
    torch::Tensor x, valid;
    switch (options.miner) {
    case Miner::BatchAll:
    case Miner::SemiHard: {
        x = d.unsqueeze(2) - d.unsqueeze(1); // [a, p, n]
        valid = pos.unsqueeze(2) & neg.unsqueeze(1);
        if (options.miner == Miner::SemiHard) {
            auto dap = dd.unsqueeze(2), dan = dd.unsqueeze(1);
            valid = valid & (dan > dap) & (dan < dap + margin);
        }
        break;
    }
    case Miner::BatchHard: {
        auto dap = d.masked_fill(~pos, -1.0).amax(1);
        auto dan = d.masked_fill(~neg, 1e4).amin(1);
        x = dap - dan;
        valid = pos.any(1) & neg.any(1);
        break;
    }
    case Miner::Random: {
        auto opts = torch::TensorOptions().dtype(torch::kFloat32);
        c10::optional<at::Generator> gen;
        if (generator)
            gen = *generator;
        auto rp = torch::rand({b, b}, gen, opts).to(d.device());
        auto rn = torch::rand({b, b}, gen, opts).to(d.device());
        auto pi = rp.masked_fill(~pos, -1.0).argmax(1, /*keepdim=*/true);
        auto ni = rn.masked_fill(~neg, -1.0).argmax(1, /*keepdim=*/true);
        x = d.gather(1, pi).squeeze(1) - d.gather(1, ni).squeeze(1);
        valid = pos.any(1) & neg.any(1);
        break;
    }
    }

    auto perTriplet = options.softMargin ? F::softplus(x) : torch::relu(x + margin);
    auto active = options.softMargin ? valid : (valid & (x.detach() + margin > 0));
    r.found = valid.sum().item<std::int64_t>();
    r.active = active.sum().item<std::int64_t>();
    // where() rather than multiplying by the mask: masked entries of batch-hard rows without
    // positives hold sentinel values whose gradient must not leak.
    auto kept = torch::where(active, perTriplet, torch::zeros_like(perTriplet));
    r.loss = kept.sum() / double(std::max<std::int64_t>(r.active, 1));
    return r;
}

} // namespace vitrine::core::train
