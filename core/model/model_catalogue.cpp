#include "core/model/model_catalogue.h"

#include <cstdlib>

namespace vitrine::core::model {

const std::vector<CatalogueEntry>& modelCatalogue() {
    static const std::vector<CatalogueEntry> entries{
        {"dino-vits16", "DINO ViT-S/16 (Meta, self-supervised on ImageNet)",
         "https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth",
         "dino_deitsmall16_pretrain.pth", "", "Apache-2.0",
         "The model of the DINO attention maps: its last-layer class-token attention segments objects.", 83},
        {"dino-vitb16", "DINO ViT-B/16 (Meta, self-supervised on ImageNet)",
         "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
         "dino_vitbase16_pretrain.pth", "", "Apache-2.0", "DINO's larger model; sharper attention maps.", 327},
        {"dinov2-vits14", "DINOv2 ViT-S/14 (Meta, LVD-142M)",
         "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth", "dinov2_vits14_pretrain.pth",
         "", "Apache-2.0",
         "Strong general-purpose features; shows the high-norm artefact tokens that registers remove.", 84},
        {"dinov2-vits14-reg4", "DINOv2 ViT-S/14 with 4 registers (Meta, LVD-142M)",
         "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth",
         "dinov2_vits14_reg4_pretrain.pth", "", "Apache-2.0",
         "The same with register tokens: cleaner attention maps, no artefact tokens.", 84},
        {"dinov2-vitb14", "DINOv2 ViT-B/14 (Meta, LVD-142M)",
         "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth", "dinov2_vitb14_pretrain.pth",
         "", "Apache-2.0", "DINOv2's base model.", 331},
        {"deit-small-16", "DeiT-S/16 (Meta, supervised on ImageNet-1k)",
         "https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth", "deit_small_patch16_224-cd65a155.pth",
         "cd65a155", "Apache-2.0", "A supervised ImageNet classifier's features, for comparison.", 84},
        {"mae-vitb16", "MAE ViT-B/16 encoder (Meta, masked autoencoder on ImageNet)",
         "https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth", "mae_pretrain_vit_base.pth", "",
         "CC BY-NC 4.0", "Masked-autoencoder features (non-commercial licence).", 328},
    };
    return entries;
}

std::optional<CatalogueEntry> catalogueEntry(const std::string& name) {
    for (const auto& e : modelCatalogue())
        if (e.name == name)
            return e;
    return std::nullopt;
}

std::filesystem::path downloadedModelsDir() {
    if (const char* dir = std::getenv("VITRINE_MODEL_DIR"); dir && *dir)
        return dir;
    if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data)
        return std::filesystem::path(data) / "vitrine" / "models";
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home && *home ? home : "/tmp") / ".local" / "share" / "vitrine" / "models";
}

std::filesystem::path downloadedModelPath(const std::string& name) {
    const auto entry = catalogueEntry(name);
    if (!entry)
        return {};
    const auto file = downloadedModelsDir() / entry->file;
    std::error_code ec;
    return std::filesystem::is_regular_file(file, ec) ? file : std::filesystem::path();
}

std::string mirroredUrl(const std::string& url) {
    const char* mirror = std::getenv("VITRINE_MODEL_MIRROR");
    if (!mirror || !*mirror)
        return url;
    // scheme://host/path -> mirror/path
    const auto scheme = url.find("://");
    const auto path = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
    std::string base(mirror);
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    return base + (path == std::string::npos ? std::string("/") : url.substr(path));
}

} // namespace vitrine::core::model
