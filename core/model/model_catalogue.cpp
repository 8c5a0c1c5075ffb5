#include "core/model/model_catalogue.h"

#include <cstdlib>

namespace vitrine::core::model {

const std::vector<CatalogueEntry>& modelCatalogue() {
    // Preprocessing as each publisher's own evaluation transform does it.
    const std::string imagenet = R"({"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], )"
                                 R"("crop_pct": 0.875, "interpolation": "bicubic"})";
    const std::string inception = R"({"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_pct": 0.9, )"
                                  R"("interpolation": "bicubic"})";
    const std::string clip =
        R"({"mean": [0.48145466, 0.4578275, 0.40821073], )"
        R"("std": [0.26862954, 0.26130258, 0.27577711], "crop_pct": 1.0, "interpolation": "bicubic"})";
    static const std::vector<CatalogueEntry> entries{
        {"dino-vits16", "DINO ViT-S/16 (Meta, self-supervised on ImageNet)",
         "https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth",
         "dino_deitsmall16_pretrain.pth", "", "", "Apache-2.0",
         "The model of the DINO attention maps: its last-layer class-token attention segments objects.", 83, imagenet},
        {"dino-vits8", "DINO ViT-S/8 (Meta, self-supervised on ImageNet)",
         "https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth",
         "dino_deitsmall8_pretrain.pth", "", "", "Apache-2.0",
         "DINO with 8-pixel patches: four times the tokens, the finest attention maps (and the slowest).", 83,
         imagenet},
        {"dino-vitb16", "DINO ViT-B/16 (Meta, self-supervised on ImageNet)",
         "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
         "dino_vitbase16_pretrain.pth", "", "", "Apache-2.0", "DINO's larger model; sharper attention maps.", 327,
         imagenet},
        {"dinov2-vits14", "DINOv2 ViT-S/14 (Meta, LVD-142M)",
         "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth", "dinov2_vits14_pretrain.pth",
         "", "", "Apache-2.0",
         "Strong general-purpose features; shows the high-norm artefact tokens that registers remove.", 84, imagenet,
         224},
        {"dinov2-vits14-reg4", "DINOv2 ViT-S/14 with 4 registers (Meta, LVD-142M)",
         "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth",
         "dinov2_vits14_reg4_pretrain.pth", "", "", "Apache-2.0",
         "The same with register tokens: cleaner attention maps, no artefact tokens.", 84, imagenet, 224},
        {"dinov2-vitb14", "DINOv2 ViT-B/14 (Meta, LVD-142M)",
         "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth", "dinov2_vitb14_pretrain.pth",
         "", "", "Apache-2.0", "DINOv2's base model.", 331, imagenet, 224},
        {"augreg-vits16", "AugReg ViT-S/16 (Google, ImageNet-21k, fine-tuned on ImageNet-1k)",
         "https://huggingface.co/timm/vit_small_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors",
         "vit_small_patch16_224.augreg_in21k_ft_in1k.safetensors", "", "", "Apache-2.0",
         "The bundled ViT-Ti/16's larger sibling (same recipe): better features, four times the compute.", 88,
         inception},
        {"augreg-vitb16", "AugReg ViT-B/16 (Google, ImageNet-21k, fine-tuned on ImageNet-1k)",
         "https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors",
         "vit_base_patch16_224.augreg_in21k_ft_in1k.safetensors", "", "", "Apache-2.0", "AugReg's base model.", 346,
         inception},
        {"deit-small-16", "DeiT-S/16 (Meta, supervised on ImageNet-1k)",
         "https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth",
         "deit_small_patch16_224-cd65a155.pth", "cd65a155",
         "the prefix in the publisher's file name (torch.hub's check_hash convention)", "Apache-2.0",
         "A supervised ImageNet classifier's features, for comparison.", 84, imagenet},
        {"clip-vitb32", "CLIP ViT-B/32 image tower (OpenAI)",
         "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/"
         "ViT-B-32.pt",
         "clip-ViT-B-32.pt", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
         "OpenAI's download URL (openai/CLIP's clip.py checks the file's SHA-256 against it)", "MIT",
         "Image-text features: the embedding is the projected class token CLIP matches against text.", 338, clip},
        {"mae-vitb16", "MAE ViT-B/16 encoder (Meta, masked autoencoder on ImageNet)",
         "https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth", "mae_pretrain_vit_base.pth", "", "",
         "CC BY-NC 4.0", "Masked-autoencoder features (non-commercial licence).", 328, imagenet},
    };
    return entries;
}

std::optional<CatalogueEntry> catalogueEntry(const std::string& name) {
    for (const auto& e : modelCatalogue())
        if (e.name == name)
            return e;
    return std::nullopt;
}

std::optional<CatalogueEntry> catalogueEntryForFile(const std::filesystem::path& file) {
    std::error_code ec;
    const auto dir = std::filesystem::weakly_canonical(downloadedModelsDir(), ec);
    const auto parent = std::filesystem::weakly_canonical(file.parent_path().empty() ? "." : file.parent_path(), ec);
    if (ec || parent != dir)
        return std::nullopt;
    for (const auto& e : modelCatalogue())
        if (e.file == file.filename().string())
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
